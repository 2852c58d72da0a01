"""The privacy page (administrators only), the Django admin's erase action, and what the ticket
page says once media expired or a requester was erased."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.contrib.admin import helpers
from django.contrib.auth.models import Group
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import AttachmentFactory, RenditionFactory, UserFactory, triaged_ticket
from triage.models import Attachment, ErasureRecord, InboundEmail, Ticket
from triage.services.retention import retention_run
from triage.services.storage import bytes_store

pytestmark = pytest.mark.django_db
URL = "/privacy/"
EMAIL = "jane@example.com"


@pytest.fixture
def admin():
    client = Client()
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    return client


def signed_in(role: str) -> Client:
    user = UserFactory(username=role)
    if role == "manager":
        user.groups.add(Group.objects.get_or_create(name="managers")[0])
    client = Client()
    client.force_login(user)
    return client


def test_the_page_is_for_administrators_only(admin):
    assert reverse("triage:privacy") == URL
    for role in ("agent", "manager"):
        client = signed_in(role)
        assert client.get(URL).status_code == 403
        assert client.post(URL, {"email": EMAIL, "action": "erase", "confirm": "on"}).status_code == 403
    assert Client().get(URL).status_code == 302
    page = admin.get(URL)
    assert page.status_code == 200 and b"kept for ever" in page.content


def test_a_manager_cannot_erase_or_export():
    ticket = triaged_ticket(requester_email=EMAIL)
    client = signed_in("manager")
    assert client.post(URL, {"email": EMAIL, "action": "export"}).status_code == 403
    assert Ticket.objects.get(id=ticket.id).requester_email == EMAIL


def test_preview_counts_and_changes_nothing(admin):
    ticket = triaged_ticket(requester_email=EMAIL)
    AttachmentFactory(ticket=ticket)
    page = admin.post(URL, {"email": EMAIL, "action": "preview"})
    assert page.status_code == 200
    assert page.context["plan"].tickets == 1 and page.context["plan"].attachments == 1
    assert Ticket.objects.get(id=ticket.id).requester_email == EMAIL


def test_erase_needs_the_confirmation(admin):
    ticket = triaged_ticket(requester_email=EMAIL)
    page = admin.post(URL, {"email": EMAIL, "action": "erase"})
    assert page.status_code == 400 and b"confirm" in page.content
    assert Ticket.objects.get(id=ticket.id).erased_at is None


def test_erase_from_the_page_records_who(admin):
    ticket = triaged_ticket(requester_email=EMAIL)
    attachment = AttachmentFactory(ticket=ticket)
    page = admin.post(URL, {"email": EMAIL, "action": "erase", "confirm": "on"})
    assert page.status_code == 200
    assert Ticket.objects.get(id=ticket.id).erased_at is not None
    assert not default_storage.exists(attachment.file.name)
    record = ErasureRecord.objects.get()
    assert record.via == "page" and record.by.username == "root"
    assert EMAIL.encode() not in admin.get(URL).content  # the list shows hashes only


def test_an_unknown_button_is_refused(admin):
    assert admin.post(URL, {"email": EMAIL, "action": "drop"}).status_code == 400


def test_export_downloads_a_zip(admin):
    ticket = triaged_ticket(requester_email=EMAIL)
    AttachmentFactory(ticket=ticket, original_name="../../etc/passwd")
    response = admin.post(URL, {"email": EMAIL, "action": "export"})
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert EMAIL not in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    body = json.loads(archive.read("tickets.json"))
    assert body["tickets"][0]["reference"] == ticket.reference
    path = body["tickets"][0]["attachments"][0]["path"]
    assert path.endswith("-passwd") and ".." not in path


def test_the_django_admin_action_asks_then_erases(admin):
    ticket = triaged_ticket(requester_email=EMAIL)
    other = triaged_ticket(requester_email="other@example.com")
    url = reverse("admin:triage_ticket_changelist")
    data = {"action": "erase_requesters", helpers.ACTION_CHECKBOX_NAME: [ticket.pk]}
    confirm = admin.post(url, data)
    assert (
        confirm.status_code == 200
        and b"Yes, erase them" in confirm.content
        and EMAIL.encode() in confirm.content
    )
    assert Ticket.objects.get(id=ticket.id).erased_at is None

    done = admin.post(url, {**data, "post": "yes"})
    assert done.status_code == 302
    assert Ticket.objects.get(id=ticket.id).erased_at is not None
    assert Ticket.objects.get(id=other.id).erased_at is None
    assert ErasureRecord.objects.get().via == "admin"


# --- the ticket page ----------------------------------------------------------------------------
def agent_client() -> Client:
    return signed_in("agent")


def test_the_ticket_page_says_the_media_expired_and_when():
    ticket = triaged_ticket()
    attachment = AttachmentFactory(ticket=ticket)
    RenditionFactory(attachment=attachment)
    Ticket.objects.filter(id=ticket.id).update(created_at=timezone.now() - timezone.timedelta(days=40))
    now = timezone.now()
    retention_run(now=now, media_days=30, mail_days=0)

    client = agent_client()
    page = client.get(reverse("triage:ticket-detail", args=[ticket.id]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "The media has expired" in text and now.strftime("%Y-%m-%d") in text
    assert attachment.original_name in text
    assert reverse("triage:attachment-file", args=[attachment.id]) not in text
    assert client.get(reverse("triage:attachment-file", args=[attachment.id])).status_code == 404
    assert Attachment.objects.get(id=attachment.id).file.name == ""


def test_a_deleted_raw_mail_is_a_404_and_the_thread_says_so():
    ticket = triaged_ticket(channel=Ticket.Channel.EMAIL)
    key, sha = bytes_store(prefix="mail", data=b"Subject: hi\r\n\r\nbody", extension="eml")
    email = InboundEmail.objects.create(
        dedupe_key="k1",
        source="raw",
        raw=key,
        sha256=sha,
        size_bytes=20,
        status=InboundEmail.Status.TICKETED,
        ticket=ticket,
        from_email="a@example.com",
        body_text="body",
    )
    InboundEmail.objects.filter(id=email.id).update(received_at=timezone.now() - timezone.timedelta(days=9))
    retention_run(media_days=0, mail_days=7)

    client = agent_client()
    assert client.get(reverse("triage:email-raw-file", args=[email.id])).status_code == 404
    page = client.get(reverse("triage:ticket-detail", args=[ticket.id])).content.decode()
    assert "raw mail deleted" in page


def test_an_erased_ticket_says_so():
    ticket = triaged_ticket(requester_email=EMAIL)
    from triage.services.retention import requester_erase

    requester_erase(email=EMAIL)
    page = agent_client().get(reverse("triage:ticket-detail", args=[ticket.id])).content.decode()
    assert "The requester&#x27;s data was erased" in page or "The requester's data was erased" in page
    assert EMAIL not in page


def test_the_api_answers_404_for_an_expired_file():
    from triage.services.api_tokens import api_token_create

    ticket = triaged_ticket()
    attachment = AttachmentFactory(ticket=ticket)
    rendition = RenditionFactory(attachment=attachment)
    Ticket.objects.filter(id=ticket.id).update(created_at=timezone.now() - timezone.timedelta(days=40))
    retention_run(media_days=30, mail_days=0)
    user = UserFactory(username="api-agent")
    token = api_token_create(user=user, name="t", scope="read").plaintext
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get(reverse("api:attachment_file", args=[attachment.id])).status_code == 404
    assert client.get(reverse("api:rendition_file", args=[rendition.id])).status_code == 404
