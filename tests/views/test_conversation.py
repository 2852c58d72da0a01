"""The conversation on the ticket page, with a real SMTP server and the signed raw webhook:
a reply goes out, the customer's answer to that exact message comes back and reopens the ticket."""

from __future__ import annotations

import hashlib
import hmac
import time
from email.message import EmailMessage

import pytest

from tests.factories import UserFactory
from triage.models import AckThrottle, InboundEmail, NoteMention, OutboundEmail, Ticket, TicketNote
from triage.services.inbound_email import inbound_email_process
from triage.services.outbound import outbound_email_send
from triage.tasks import (
    attachment_process_task,
    inbound_email_process_task,
    outbound_email_send_task,
    ticket_triage_task,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("view_taxonomy")]

SECRET = "test-inbound-secret"


@pytest.fixture(autouse=True)
def _workers_inline(settings, monkeypatch):
    """The intake and outbound jobs run on commit in this process, as their workers would."""
    settings.INBOUND_EMAIL_SECRET = SECRET
    settings.TRIAGE_ACK_MIN_INTERVAL_S = 3600
    monkeypatch.setattr(
        inbound_email_process_task,
        "delay",
        lambda **kw: inbound_email_process(inbound_email_id=kw["inbound_email_id"]),
    )
    monkeypatch.setattr(
        outbound_email_send_task,
        "delay",
        lambda **kw: outbound_email_send(outbound_email_id=kw["outbound_email_id"]),
    )
    monkeypatch.setattr(attachment_process_task, "delay", lambda **kw: None)
    monkeypatch.setattr(ticket_triage_task, "delay", lambda **kw: None)


def post_raw(client, capture, body: bytes) -> None:
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


def customer_mail(
    *, message_id: str, subject: str = "Checkout fails", body: str = "It fails.", **headers
) -> bytes:
    msg = EmailMessage()
    msg["From"] = headers.pop("from_", "Maria Lopez <maria@example.com>")
    msg["To"] = headers.pop("to", "support@triage.local")
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{message_id}>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def answer_to(sent: EmailMessage, *, body: str) -> bytes:
    """What the customer's mail program sends back: to the Reply-To, In-Reply-To that message."""
    return customer_mail(
        message_id="answer-1@example.com",
        subject=f"Re: {sent['Subject']}",
        body=body,
        to=str(sent["Reply-To"]),
        In_Reply_To=str(sent["Message-ID"]),
        References=f"{sent.get('References', '')} {sent['Message-ID']}".strip(),
    )


def test_a_reply_goes_out_and_the_customers_answer_threads_back_and_reopens_the_ticket(
    client, smtp_server, django_capture_on_commit_callbacks
):
    post_raw(client, django_capture_on_commit_callbacks, customer_mail(message_id="first@example.com"))
    ack = smtp_server.wait_for(1)[0].message  # the acknowledgement of the new ticket
    assert ack["Auto-Submitted"] == "auto-replied"
    ticket = Ticket.objects.get()
    Ticket.objects.filter(id=ticket.id).update(status=Ticket.Status.REVIEWED)

    agent = UserFactory(username="ann")
    client.force_login(agent)
    page = client.get(f"/tickets/{ticket.id}/").content.decode()
    assert 'value="maria@example.com"' in page  # the composer is addressed to the requester
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/tickets/{ticket.id}/reply/",
            {"to": "maria@example.com", "cc": "", "body": "Please try again now."},
            headers={"HX-Request": "true"},
        )
    assert response.status_code == 200
    client.post(f"/tickets/{ticket.id}/actions/", {"action": "status", "status": "PENDING"})
    assert Ticket.objects.get(id=ticket.id).status == Ticket.Status.PENDING

    sent = smtp_server.wait_for(2)[1].message
    assert sent["In-Reply-To"] == "<first@example.com>"
    assert OutboundEmail.objects.get(kind=OutboundEmail.Kind.REPLY).status == OutboundEmail.Status.SENT

    post_raw(client, django_capture_on_commit_callbacks, answer_to(sent, body="Works now, thanks!"))
    answer = InboundEmail.objects.get(message_id="answer-1@example.com")
    assert answer.ticket_id == ticket.id
    assert answer.details["in_reply_to"] == [str(sent["Message-ID"]).strip("<>")]
    assert answer.status == InboundEmail.Status.THREADED
    assert Ticket.objects.get(id=ticket.id).status == Ticket.Status.REVIEWED  # reopened
    assert len(smtp_server.received) == 2  # a reply in a thread is not acknowledged

    page = client.get(f"/tickets/{ticket.id}/").content.decode()
    timeline = page[page.index('id="timeline"') :]
    ours, theirs = timeline.index("Please try again now."), timeline.index("Works now, thanks!")
    assert ours < theirs  # oldest first
    assert "Pending</strong> (the customer replied)" not in timeline
    assert 'data-state="sent"' in timeline
    assert "Open</strong> (the customer replied)" in timeline


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({"Auto_Submitted": "auto-replied", "In_Reply_To": "<ack@triage.local>"}, "auto-reply to our ack"),
        ({"List_Id": "<users.lists.example.com>"}, "list mail"),
        ({"Precedence": "bulk"}, "bulk mail"),
        ({"from_": "MAILER-DAEMON@mx.example.com"}, "bounce"),
        ({"from_": "no-reply@shop.example.com"}, "robot"),
    ],
)
def test_loop_cases_send_nothing(client, smtp_server, django_capture_on_commit_callbacks, headers, why):
    post_raw(client, django_capture_on_commit_callbacks, customer_mail(message_id=f"loop-{why}@x", **headers))
    assert not OutboundEmail.objects.exists(), why
    assert smtp_server.received == []


def test_a_second_mail_from_the_same_sender_within_the_interval_is_not_acknowledged(
    client, smtp_server, django_capture_on_commit_callbacks
):
    post_raw(client, django_capture_on_commit_callbacks, customer_mail(message_id="a@example.com"))
    post_raw(
        client, django_capture_on_commit_callbacks, customer_mail(message_id="b@example.com", subject="Other")
    )
    assert Ticket.objects.count() == 2
    assert OutboundEmail.objects.filter(kind=OutboundEmail.Kind.ACK).count() == 1
    assert len(smtp_server.wait_for(1)) == 1
    assert AckThrottle.objects.get().address == "maria@example.com"


def test_a_failed_reply_shows_the_reason_and_retry(
    client, smtp_server, django_capture_on_commit_callbacks, settings
):
    settings.TRIAGE_ACK_ENABLED = False
    post_raw(client, django_capture_on_commit_callbacks, customer_mail(message_id="first@example.com"))
    ticket = Ticket.objects.get()
    client.force_login(UserFactory())
    smtp_server.refuse(554, "5.7.1 relay denied")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/tickets/{ticket.id}/reply/", {"to": "maria@example.com", "body": "Hello"})
    mail = OutboundEmail.objects.get()
    fragment = client.get(f"/tickets/{ticket.id}/mail/{mail.id}/").content.decode()
    assert "failed: 554 5.7.1 relay denied" in fragment and ">Retry</button>" in fragment
    smtp_server.accept()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/tickets/{ticket.id}/mail/{mail.id}/retry/")
    assert OutboundEmail.objects.get().status == OutboundEmail.Status.SENT
    assert len(smtp_server.wait_for(1)) == 1


def test_a_reply_while_sending_polls_until_it_is_sent(
    client, monkeypatch, django_capture_on_commit_callbacks, settings
):
    settings.TRIAGE_ACK_ENABLED = False
    monkeypatch.setattr(outbound_email_send_task, "delay", lambda **kw: None)  # the worker is busy
    post_raw(client, django_capture_on_commit_callbacks, customer_mail(message_id="first@example.com"))
    ticket = Ticket.objects.get()
    client.force_login(UserFactory())
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/tickets/{ticket.id}/reply/", {"to": "maria@example.com", "body": "Hello"})
    mail = OutboundEmail.objects.get()
    fragment = client.get(f"/tickets/{ticket.id}/mail/{mail.id}/").content.decode()
    assert 'data-state="queued">sending' in fragment and 'hx-trigger="every' in fragment


def test_a_note_is_internal_and_a_mention_notifies_the_colleague(
    client, smtp_server, django_capture_on_commit_callbacks, settings
):
    settings.TRIAGE_ACK_ENABLED = False
    post_raw(client, django_capture_on_commit_callbacks, customer_mail(message_id="first@example.com"))
    ticket = Ticket.objects.get()
    author = UserFactory(username="ann")
    colleague = UserFactory(username="bob", email="bob@team.example")
    client.force_login(author)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/tickets/{ticket.id}/notes/", {"body": "**Refund?** ask @bob. <script>x</script>"})
    note = TicketNote.objects.get(ticket=ticket)
    assert NoteMention.objects.get(note=note).user_id == colleague.id
    mails = smtp_server.wait_for(1)
    assert [m.rcpt_tos for m in mails] == [["bob@team.example"]]  # the colleague, never the customer
    assert "Refund?" in mails[0].message.get_content()
    page = client.get(f"/tickets/{ticket.id}/").content.decode()
    assert '<strong>Refund?</strong> ask <span class="mention">@bob</span>' in page
    assert "<script>x</script>" not in page and "&lt;script&gt;" in page
    client.force_login(colleague)
    queue = client.get("/").content.decode()
    assert 'aria-label="1 unread">1</span>' in queue
    client.get(f"/tickets/{ticket.id}/")  # reading the ticket reads the mention
    assert 'aria-label="1 unread"' not in client.get("/").content.decode()
