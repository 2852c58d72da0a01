from __future__ import annotations

import io

import pytest

from triage.demo_media import render_screenshot
from triage.models import Attachment, Ticket
from triage.services.tickets import Upload, ticket_create
from triage.tasks import attachment_process_task, ticket_triage_task

pytestmark = pytest.mark.django_db


def test_each_attachment_is_enqueued_on_the_media_queue_on_commit(
    django_capture_on_commit_callbacks, monkeypatch
):
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(attachment_process_task, "delay", lambda **kw: sent.append(("media", kw)))
    monkeypatch.setattr(ticket_triage_task, "delay", lambda **kw: sent.append(("llm", kw)))
    png = render_screenshot(title="t", lines=["x"])
    with django_capture_on_commit_callbacks(execute=True):
        ticket = ticket_create(
            subject="  Crash on save  ",
            description="d",
            requester_email="a@example.com",
            uploads=[Upload(fileobj=io.BytesIO(png), name="../../etc/passwd.png", size_bytes=len(png))],
        )
        assert sent == []  # nothing leaves before the commit
    attachment = ticket.attachments.get()
    assert sent == [("media", {"attachment_id": attachment.id})]
    assert ticket.subject == "Crash on save"
    assert ticket.status == Ticket.Status.PROCESSING
    assert attachment.kind == Attachment.Kind.IMAGE and attachment.mime == "image/png"
    assert attachment.original_name == "../../etc/passwd.png"
    assert ".." not in attachment.file.name and attachment.file.name.startswith("originals/")


def test_a_ticket_without_attachments_goes_straight_to_triage(
    django_capture_on_commit_callbacks, monkeypatch
):
    sent: list[dict] = []
    monkeypatch.setattr(ticket_triage_task, "delay", lambda **kw: sent.append(kw))
    with django_capture_on_commit_callbacks(execute=True):
        ticket = ticket_create(subject="Question", description="How do I export?", requester_email="")
    assert ticket.status == Ticket.Status.TRIAGING
    assert sent == [{"ticket_id": ticket.id}]
