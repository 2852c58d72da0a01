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


def test_the_requesters_acknowledgement_is_left_to_the_outbound_worker_and_sent_once(
    django_capture_on_commit_callbacks, monkeypatch, settings
):
    """The post that creates the ticket only queues the acknowledgement (its throttle, template and
    rows cost ~40% of the form post's CPU); the outbound worker writes it, once per ticket."""
    from triage.models import AckThrottle, OutboundEmail
    from triage.services.outbound import ticket_acknowledge_later
    from triage.tasks import ticket_acknowledge_task

    settings.TRIAGE_ACK_ENABLED = True
    sent: list[dict] = []
    monkeypatch.setattr(ticket_acknowledge_task, "delay", lambda **kw: sent.append(kw))
    monkeypatch.setattr(ticket_triage_task, "delay", lambda **kw: None)
    with django_capture_on_commit_callbacks(execute=True):
        ticket = ticket_create(
            subject="Refund", description="Charged twice", requester_email="Ana@example.com"
        )
        assert not OutboundEmail.objects.exists() and not AckThrottle.objects.exists()
    assert sent == [{"ticket_id": ticket.id}]
    first = ticket_acknowledge_later(ticket_id=ticket.id)
    again = ticket_acknowledge_later(ticket_id=ticket.id)  # the job delivered twice
    assert first is not None and again is None
    ack = OutboundEmail.objects.get()
    assert ack.kind == OutboundEmail.Kind.ACK and ack.ticket_id == ticket.id and ack.to == ["Ana@example.com"]
    assert ack.headers["Auto-Submitted"] == "auto-replied"


@pytest.mark.parametrize(
    ("requester_email", "acknowledge", "enabled"),
    [("", True, True), ("ana@example.com", False, True), ("ana@example.com", True, False)],
)
def test_no_acknowledgement_job_without_a_requester_or_when_acknowledgements_are_off(
    django_capture_on_commit_callbacks, monkeypatch, settings, requester_email, acknowledge, enabled
):
    from triage.tasks import ticket_acknowledge_task

    settings.TRIAGE_ACK_ENABLED = enabled
    sent: list[dict] = []
    monkeypatch.setattr(ticket_acknowledge_task, "delay", lambda **kw: sent.append(kw))
    monkeypatch.setattr(ticket_triage_task, "delay", lambda **kw: None)
    with django_capture_on_commit_callbacks(execute=True):
        ticket_create(subject="Q", description="d", requester_email=requester_email, acknowledge=acknowledge)
    assert sent == []
