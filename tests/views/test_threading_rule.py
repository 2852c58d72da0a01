"""Who may join a ticket by naming it: posted to the signed raw webhook, parsed as the worker would."""

from __future__ import annotations

import hashlib
import hmac
import time
from email.message import EmailMessage

import pytest

from triage.models import InboundEmail, Ticket, TicketNote
from triage.services.inbound_email import inbound_email_process
from triage.tasks import attachment_process_task, inbound_email_process_task, ticket_triage_task

pytestmark = pytest.mark.django_db

SECRET = "test-inbound-secret"


@pytest.fixture(autouse=True)
def _intake_runs_inline(settings, monkeypatch):
    """The raw endpoint's job runs here, on commit, as the intake worker would run it."""
    settings.INBOUND_EMAIL_SECRET = SECRET
    monkeypatch.setattr(
        inbound_email_process_task,
        "delay",
        lambda **kw: inbound_email_process(inbound_email_id=kw["inbound_email_id"]),
    )
    monkeypatch.setattr(attachment_process_task, "delay", lambda **kw: None)
    monkeypatch.setattr(ticket_triage_task, "delay", lambda **kw: None)


def post_mail(client, capture, *, sender: str, subject: str, message_id: str, **headers: str) -> InboundEmail:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "support@triage.local"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{message_id}>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("Please look at this again.")
    body = msg.as_bytes()
    ts = str(int(time.time()))
    mac = hmac.new(SECRET.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    with capture(execute=True):
        response = client.post(
            "/intake/email/raw/",
            data=body,
            content_type="message/rfc822",
            headers={"X-Triage-Timestamp": ts, "X-Triage-Signature": f"sha256={mac}"},
        )
    assert response.status_code == 202, response.content
    return InboundEmail.objects.get(message_id=message_id)


@pytest.fixture
def reviewed_ticket(client, django_capture_on_commit_callbacks) -> Ticket:
    first = post_mail(
        client,
        django_capture_on_commit_callbacks,
        sender="Maria <maria@example.com>",
        subject="Checkout fails",
        message_id="first@example.com",
    )
    Ticket.objects.filter(id=first.ticket_id).update(status=Ticket.Status.REVIEWED)
    return Ticket.objects.get(id=first.ticket_id)


def test_the_requester_joins_her_ticket_by_naming_it_in_the_subject(
    client, django_capture_on_commit_callbacks, reviewed_ticket
):
    reply = post_mail(
        client,
        django_capture_on_commit_callbacks,
        sender="maria@EXAMPLE.com",
        subject=f"Re: [{reviewed_ticket.reference}] still failing",
        message_id="second@example.com",
    )
    assert reply.status == InboundEmail.Status.THREADED
    assert reply.ticket_id == reviewed_ticket.id
    assert reply.thread_reason == InboundEmail.ThreadReason.SUBJECT_REF
    assert Ticket.objects.count() == 1


def test_a_stranger_naming_a_ticket_opens_a_new_one_that_mentions_it(
    client, admin_client, django_capture_on_commit_callbacks, reviewed_ticket
):
    attached_before = reviewed_ticket.attachments.count()
    mail = post_mail(
        client,
        django_capture_on_commit_callbacks,
        sender="mallory@evil.example",
        subject=f"Re: {reviewed_ticket.reference} refund to my account please",
        message_id="stranger@evil.example",
    )
    assert mail.status == InboundEmail.Status.TICKETED
    assert mail.ticket_id != reviewed_ticket.id
    new = mail.ticket
    assert new.requester_email == "mallory@evil.example"
    assert new.linked_ticket_id == reviewed_ticket.id and new.link_kind == Ticket.LinkKind.MENTIONS
    # the original is untouched: not reopened, nothing attached, but told about it in a note
    original = Ticket.objects.get(id=reviewed_ticket.id)
    assert original.status == Ticket.Status.REVIEWED
    assert original.attachments.count() == attached_before
    assert not original.emails.filter(id=mail.id).exists()
    note = TicketNote.objects.get(ticket=original)
    assert note.author is None and new.reference in note.body and "mallory@evil.example" in note.body
    page = admin_client.get(f"/tickets/{new.id}/").content.decode()
    assert f'Mentions <a href="/tickets/{reviewed_ticket.id}/">{reviewed_ticket.reference}</a>' in page


def test_a_stranger_replying_by_in_reply_to_still_joins_as_before(
    client, django_capture_on_commit_callbacks, reviewed_ticket
):
    reply = post_mail(
        client,
        django_capture_on_commit_callbacks,
        sender="colleague@example.com",
        subject="Re: Checkout fails",
        message_id="third@example.com",
        In_Reply_To="<first@example.com>",
    )
    assert reply.ticket_id == reviewed_ticket.id
    assert reply.thread_reason == InboundEmail.ThreadReason.IN_REPLY_TO


def test_someone_who_wrote_to_the_ticket_before_may_name_it_later(
    client, django_capture_on_commit_callbacks, reviewed_ticket
):
    post_mail(
        client,
        django_capture_on_commit_callbacks,
        sender="colleague@example.com",
        subject="Re: Checkout fails",
        message_id="third@example.com",
        In_Reply_To="<first@example.com>",
    )
    later = post_mail(
        client,
        django_capture_on_commit_callbacks,
        sender="colleague@example.com",
        subject=f"{reviewed_ticket.reference}: one more thing",
        message_id="fourth@example.com",
    )
    assert later.ticket_id == reviewed_ticket.id
    assert later.thread_reason == InboundEmail.ThreadReason.SUBJECT_REF


@pytest.mark.parametrize("status", [Ticket.Status.PENDING, Ticket.Status.SOLVED])
def test_the_customers_answer_reopens_a_pending_or_solved_ticket_without_triaging_it_again(
    client, django_capture_on_commit_callbacks, reviewed_ticket, status
):
    Ticket.objects.filter(id=reviewed_ticket.id).update(status=status)
    reply = post_mail(
        client,
        django_capture_on_commit_callbacks,
        sender="maria@example.com",
        subject="Re: Checkout fails",
        message_id="answer@example.com",
        In_Reply_To="<first@example.com>",
    )
    assert reply.ticket_id == reviewed_ticket.id
    assert Ticket.objects.get(id=reviewed_ticket.id).status == Ticket.Status.REVIEWED


def test_a_reply_to_a_closed_ticket_opens_a_new_ticket_linked_to_it(
    client, admin_client, django_capture_on_commit_callbacks, reviewed_ticket
):
    Ticket.objects.filter(id=reviewed_ticket.id).update(status=Ticket.Status.CLOSED)
    reply = post_mail(
        client,
        django_capture_on_commit_callbacks,
        sender="maria@example.com",
        subject="Re: Checkout fails",
        message_id="late@example.com",
        In_Reply_To="<first@example.com>",
    )
    assert reply.status == InboundEmail.Status.TICKETED and reply.ticket_id != reviewed_ticket.id
    assert reply.ticket.linked_ticket_id == reviewed_ticket.id
    assert reply.ticket.link_kind == Ticket.LinkKind.FOLLOW_UP
    assert Ticket.objects.get(id=reviewed_ticket.id).status == Ticket.Status.CLOSED
    assert reply.ticket.reference in TicketNote.objects.get(ticket=reviewed_ticket).body
    page = admin_client.get(f"/tickets/{reply.ticket_id}/").content.decode()
    assert f'Follow-up of <a href="/tickets/{reviewed_ticket.id}/">' in page
