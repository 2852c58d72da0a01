"""The per-file upload endpoint (intake.js) and the ticket form that carries its tokens."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.factories import FAKE_MP4, UserFactory, png_bytes
from tests.views.test_ticket_create import noise_png, stored_originals
from triage.models import Attachment, Ticket
from triage.services import tickets as tickets_service
from triage.services.storage import content_key

pytestmark = pytest.mark.django_db
UPLOAD = reverse("triage:ticket-upload")
CREATE = reverse("triage:ticket-create")


@pytest.fixture
def user():
    return UserFactory()


@pytest.fixture
def agent(client, user):
    client.force_login(user)
    return client


def upload(client, name: str, data: bytes, content_type: str = "image/png"):
    return client.post(UPLOAD, {"file": SimpleUploadedFile(name, data, content_type=content_type)})


def test_an_upload_is_stored_by_content_and_answered_with_a_token(agent):
    data = png_bytes(90, 60)
    response = agent.post(UPLOAD, {"file": SimpleUploadedFile("shot.png", data, content_type="image/png")})
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "shot.png" and body["size"] == len(data)
    assert body["kind"] == "image" and body["mime"] == "image/png"
    sha = hashlib.sha256(data).hexdigest()
    with default_storage.open(content_key(prefix="originals", sha256=sha, extension="png"), "rb") as fh:
        assert fh.read() == data
    assert not Ticket.objects.exists() and not Attachment.objects.exists()


def test_the_ticket_form_with_tokens_makes_the_attachments_and_their_jobs(
    agent, user, django_capture_on_commit_callbacks
):
    shot = png_bytes(80, 50)
    tokens = [
        upload(agent, "shot.png", shot).json()["token"],
        upload(agent, "rec.mp4", FAKE_MP4, "video/mp4").json()["token"],
    ]
    with django_capture_on_commit_callbacks() as callbacks:
        response = agent.post(CREATE, {"subject": "Checkout fails", "description": "", "staged": tokens})
    ticket = Ticket.objects.get()
    assert response.status_code == 302 and response.url == reverse("triage:ticket-detail", args=[ticket.id])
    assert ticket.status == Ticket.Status.PROCESSING and ticket.created_by == user
    rows = list(ticket.attachments.values_list("original_name", "kind", "mime", "size_bytes", "sha256"))
    assert rows == [
        ("shot.png", "IMAGE", "image/png", len(shot), hashlib.sha256(shot).hexdigest()),
        ("rec.mp4", "VIDEO", "video/mp4", len(FAKE_MP4), hashlib.sha256(FAKE_MP4).hexdigest()),
    ]
    assert len(callbacks) == 2  # one media job per attachment, on commit
    assert f"{ticket.reference} created with 2 attachments" in agent.get(response.url).content.decode()


def test_a_plain_file_and_a_token_can_arrive_together(agent):
    token = upload(agent, "first.png", png_bytes(30, 30)).json()["token"]
    response = agent.post(
        CREATE,
        {
            "subject": "Both ways",
            "staged": [token],
            "attachments": [SimpleUploadedFile("second.png", png_bytes(31, 30), content_type="image/png")],
        },
    )
    assert response.status_code == 302
    assert sorted(Attachment.objects.values_list("original_name", flat=True)) == ["first.png", "second.png"]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "notes.txt",
            b"just some notes, not a picture\n",
            "'notes.txt': not a supported screenshot or recording",
        ),
        ("empty.png", b"", "'empty.png': the file is empty"),
    ],
)
def test_a_refused_file_is_a_400_with_the_reason_and_stores_nothing(agent, name, data, message):
    response = upload(agent, name, data, "text/plain")
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert stored_originals() == []


def test_an_oversize_upload_is_refused_with_the_limit(agent, settings):
    settings.TRIAGE_MAX_IMAGE_BYTES = 1024 * 1024
    response = upload(agent, "big.png", noise_png(700))
    assert response.status_code == 400
    assert response.json()["error"] == "'big.png': screenshots may be at most 1 MB; this file is 1.4 MB"
    assert stored_originals() == []


def test_a_request_without_a_file_is_a_400(agent):
    response = agent.post(UPLOAD, {})
    assert response.status_code == 400
    assert response.json()["error"] == "This field is required."


def test_uploads_need_a_login_and_a_post(client, agent):
    assert agent.get(UPLOAD).status_code == 405
    client.logout()
    response = upload(client, "shot.png", png_bytes())
    assert response.status_code == 302 and "/accounts/login/" in response.url
    assert stored_originals() == []


def test_a_forged_or_foreign_token_is_refused_and_the_form_is_kept(agent, client, user):
    token = upload(agent, "shot.png", png_bytes()).json()["token"]
    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    response = agent.post(CREATE, {"subject": "Keep me", "staged": [forged]})
    assert response.status_code == 200
    html = response.content.decode()
    assert "not an upload of yours: add the file again" in html and 'value="Keep me"' in html
    assert not Ticket.objects.exists()

    other = UserFactory()
    client.force_login(other)  # someone else's token names a blob they did not upload
    response = client.post(CREATE, {"subject": "Theirs", "staged": [token]})
    assert response.status_code == 200 and not Ticket.objects.exists()


def test_an_expired_token_asks_for_the_file_again(agent, monkeypatch):
    token = upload(agent, "shot.png", png_bytes()).json()["token"]
    monkeypatch.setattr(tickets_service, "STAGED_MAX_AGE_S", -1)
    response = agent.post(CREATE, {"subject": "Late", "staged": [token]})
    assert "the upload expired: add the file again" in response.content.decode()
    assert not Ticket.objects.exists()


def test_a_form_error_keeps_the_uploaded_files_listed_with_their_tokens(agent):
    token = upload(agent, "kept.png", png_bytes()).json()["token"]
    response = agent.post(CREATE, {"subject": "", "staged": [token]})
    assert response.status_code == 200
    html = response.content.decode()
    assert "This field is required." in html
    assert "kept.png" in html and f'name="staged" value="{token}"' in html
    assert not Ticket.objects.exists()


def test_files_and_tokens_together_may_not_pass_the_per_ticket_limit(agent, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    tokens = [upload(agent, f"s{i}.png", png_bytes(20 + i, 20)).json()["token"] for i in range(3)]
    response = agent.post(CREATE, {"subject": "Too many", "staged": tokens})
    assert response.status_code == 200
    assert "At most 2 files per ticket; 3 given." in response.content.decode()
    assert not Ticket.objects.exists()


def test_the_page_carries_the_servers_limits_and_types_for_the_script(agent, settings):
    settings.TRIAGE_MAX_IMAGE_BYTES = 1234
    settings.TRIAGE_SCREEN_RECORDING_MAX_S = 45
    html = agent.get(CREATE).content.decode()
    start = html.index('<script id="intake-config" type="application/json">') + len(
        '<script id="intake-config" type="application/json">'
    )
    config = json.loads(html[start : html.index("</script>", start)])
    assert config["maxImageBytes"] == 1234 and config["recordMaxS"] == 45
    assert config["uploadUrl"] == UPLOAD
    assert "image/png" in config["imageTypes"] and "video/webm" in config["videoTypes"]
    assert html.count('id="intake-config"') == 1 and "<title>New ticket · Triage</title>" in html
    assert "onclick" not in html.lower() and "<script>" not in html  # CSP: no inline script
