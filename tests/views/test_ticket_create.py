from __future__ import annotations

import hashlib
import io
import os

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from tests.factories import FAKE_MP4, UserFactory, png_bytes
from triage.models import Attachment, Ticket
from triage.services.storage import content_key

pytestmark = pytest.mark.django_db
CREATE = reverse("triage:ticket-create")


@pytest.fixture
def user():
    return UserFactory()


@pytest.fixture
def agent(client, user):
    client.force_login(user)
    return client


def form_data(*files: SimpleUploadedFile, **fields: str) -> dict:
    data = {
        "subject": "Checkout fails with error 500",
        "description": "Every card payment fails.\nSee the screenshot.",
        "requester_email": "buyer@example.com",
        **fields,
    }
    if files:
        data["attachments"] = list(files)
    return data


def png_upload(name: str = "checkout.png", data: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data if data is not None else png_bytes(), content_type="image/png")


def noise_png(side: int) -> bytes:
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buffer, format="PNG")
    return buffer.getvalue()


def stored_originals() -> list[str]:
    if not default_storage.exists("originals"):
        return []
    found, stack = [], ["originals"]
    while stack:
        folder = stack.pop()
        dirs, files = default_storage.listdir(folder)
        stack += [f"{folder}/{d}" for d in dirs]
        found += [f"{folder}/{f}" for f in files]
    return found


def test_the_form_takes_several_screenshots_and_recordings(agent):
    html = agent.get(CREATE).content.decode()
    assert 'enctype="multipart/form-data"' in html
    file_input = next(line for line in html.splitlines() if 'type="file"' in line)
    assert 'name="attachments"' in file_input and "multiple" in file_input
    for mime in (
        "image/png",
        "image/jpeg",
        "image/webp",
        "image/gif",
        "video/mp4",
        "video/webm",
        "video/quicktime",
    ):
        assert mime in file_input
    assert 'data-max-files="20"' in file_input


def test_a_ticket_with_a_real_png_is_created_stored_by_content_hash_and_queued(
    agent, user, django_capture_on_commit_callbacks
):
    data = png_bytes(120, 80)
    with django_capture_on_commit_callbacks() as callbacks:
        response = agent.post(CREATE, form_data(png_upload("my screenshot.png", data)))

    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("triage:ticket-detail", args=[ticket.id])
    assert ticket.subject == "Checkout fails with error 500"
    assert ticket.requester_email == "buyer@example.com"
    assert ticket.created_by == user and ticket.channel == Ticket.Channel.WEB
    assert ticket.status == Ticket.Status.PROCESSING

    attachment = Attachment.objects.get(ticket=ticket)
    sha = hashlib.sha256(data).hexdigest()
    assert attachment.sha256 == sha and attachment.mime == "image/png" and attachment.kind == "IMAGE"
    assert attachment.file.name == content_key(prefix="originals", sha256=sha, extension="png")
    assert "screenshot" not in attachment.file.name
    assert attachment.original_name == "my screenshot.png"
    with default_storage.open(attachment.file.name, "rb") as stored:
        assert stored.read() == data

    # the media job and the requester's acknowledgement, registered on commit and not run here
    assert len(callbacks) == 2

    page = agent.get(response.url)
    assert f"{ticket.reference} created with 1 attachment" in page.content.decode()


def test_a_screenshot_and_a_recording_make_two_attachments_and_two_jobs(
    agent, django_capture_on_commit_callbacks
):
    video = SimpleUploadedFile("rec.mp4", FAKE_MP4, content_type="video/mp4")
    with django_capture_on_commit_callbacks() as callbacks:
        response = agent.post(CREATE, form_data(png_upload(), video, requester_email=""))
    assert response.status_code == 302
    kinds = sorted(Attachment.objects.values_list("kind", "mime"))
    assert kinds == [("IMAGE", "image/png"), ("VIDEO", "video/mp4")]
    assert len(callbacks) == 2


def test_a_ticket_without_files_goes_straight_to_triage(agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = agent.post(CREATE, form_data(requester_email=""))
    assert response.status_code == 302
    assert Ticket.objects.get().status == Ticket.Status.TRIAGING
    assert len(callbacks) == 1  # no requester email: no acknowledgement


def assert_rejected(response, message: str) -> None:
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html, html[html.find("errorlist") - 200 : html.find("errorlist") + 600]
    assert not Ticket.objects.exists() and not Attachment.objects.exists()
    assert stored_originals() == []


def test_a_text_file_named_png_is_refused_by_its_content(agent):
    fake = SimpleUploadedFile("notes.png", b"just some notes, not a picture\n", content_type="image/png")
    response = agent.post(CREATE, form_data(fake))
    assert_rejected(
        response, "&#x27;notes.png&#x27;: not a supported screenshot or recording (looks like plain text)"
    )


def test_an_empty_file_is_refused_by_name(agent):
    response = agent.post(CREATE, form_data(SimpleUploadedFile("empty.png", b"", content_type="image/png")))
    assert_rejected(response, "&#x27;empty.png&#x27;: the file is empty")


def test_an_oversize_screenshot_is_refused_with_the_limit(agent, settings):
    settings.TRIAGE_MAX_IMAGE_BYTES = 1024 * 1024
    big = noise_png(700)  # ~1.4 MB of incompressible pixels
    assert len(big) > settings.TRIAGE_MAX_IMAGE_BYTES
    response = agent.post(CREATE, form_data(png_upload("big.png", big)))
    assert_rejected(response, "&#x27;big.png&#x27;: screenshots may be at most 1 MB; this file is 1.4 MB")


def test_one_bad_file_refuses_the_whole_ticket_and_names_only_that_file(agent):
    fake = SimpleUploadedFile(
        "page.png", b"<!doctype html><script>alert(1)</script>", content_type="image/png"
    )
    response = agent.post(CREATE, form_data(png_upload("good.png"), fake, subject="Keep me"))
    assert_rejected(
        response, "&#x27;page.png&#x27;: not a supported screenshot or recording (looks like HTML)"
    )
    html = response.content.decode()
    assert "good.png" not in html
    assert 'value="Keep me"' in html  # the rest of the form is kept


def test_a_missing_subject_is_a_form_error(agent):
    response = agent.post(CREATE, form_data(subject=""))
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not Ticket.objects.exists()


def test_an_invalid_email_is_a_form_error(agent):
    response = agent.post(CREATE, form_data(requester_email="not-an-email"))
    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()


def test_too_many_files_is_a_bad_request_not_a_crash(agent, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    files = [png_upload(f"shot{i}.png", png_bytes(10 + i, 10)) for i in range(4)]
    response = agent.post(CREATE, form_data(*files))
    assert response.status_code == 400
    assert not Ticket.objects.exists()


def test_an_oversize_text_body_is_a_bad_request_not_a_crash(agent, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = agent.post(CREATE, form_data(description="x" * 5000))
    assert response.status_code == 400
    assert not Ticket.objects.exists()


def test_a_form_post_with_three_screenshots_stays_within_its_query_budget_and_inserts_the_files_at_once(
    agent, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    """The post answers once the ticket and its files are stored: the session and the agent (no
    group query: any active user is an agent), one touch per file of a staged copy
    (original_store), the ticket (its SLA policies read on save), one INSERT for every attachment
    and the outbox's endpoint lookup, in a savepoint here. Everything else (the media jobs, triage,
    the acknowledgement) runs after the commit, in the workers."""
    files = [png_upload(f"s{n}.png", png_bytes(40 + n, 30)) for n in range(3)]
    with (
        django_capture_on_commit_callbacks() as callbacks,
        django_assert_max_num_queries(11) as queries,
    ):
        response = agent.post(CREATE, form_data(*files))
    assert response.status_code == 302
    assert Attachment.objects.filter(ticket=Ticket.objects.get()).count() == 3
    inserts = [
        q["sql"] for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "triage_attachment"')
    ]
    assert len(inserts) == 1
    assert len(callbacks) == 4  # a media job per file, the acknowledgement
