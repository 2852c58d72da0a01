"""Outbound mail through a real SMTP server: recorded first, threaded, sent once, failures on the row."""

from __future__ import annotations

import io
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tests.factories import TicketFactory, UserFactory, png_bytes
from triage.adapters.email.threading import reply_token_find
from triage.models import AckThrottle, InboundEmail, OutboundEmail, SentEmail, Ticket
from triage.services.outbound import (
    ReplyUpload,
    SendRetryLater,
    ack_claim,
    outbound_email_retry,
    outbound_email_send,
    reply_send,
    ticket_acknowledge,
)
from triage.tasks import outbound_email_send_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """Sends published to the `outbound` queue (run by hand here, as the worker would)."""
    ids: list[int] = []
    monkeypatch.setattr(outbound_email_send_task, "delay", lambda **kw: ids.append(kw["outbound_email_id"]))
    return ids


@pytest.fixture
def email_ticket(db) -> Ticket:
    ticket = TicketFactory(
        status=Ticket.Status.PENDING,
        requester_email="maria@example.com",
        channel=Ticket.Channel.EMAIL,
        subject="Checkout fails",
    )
    InboundEmail.objects.create(
        dedupe_key="k1",
        message_id="first@example.com",
        source="raw",
        raw="inbound/x.eml",
        sha256="0" * 64,
        size_bytes=10,
        status=InboundEmail.Status.TICKETED,
        ticket=ticket,
        thread_reason="new",
        from_email="maria@example.com",
        details={"cc": ["boss@example.com"], "references": ["older@example.com"]},
    )
    return ticket


def test_a_reply_is_recorded_with_its_message_id_before_anything_is_sent(
    email_ticket, queued, smtp_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        mail = reply_send(
            ticket_id=email_ticket.id, author=UserFactory(), body="Hello", to=["maria@example.com"]
        )
        # in the transaction: the row and the Message-ID exist, nothing is published or sent yet
        assert OutboundEmail.objects.get().status == OutboundEmail.Status.QUEUED
        assert SentEmail.objects.get(message_id=mail.message_id).ticket_id == email_ticket.id
        assert queued == []
    for callback in callbacks:
        callback()
    assert queued == [mail.id]
    assert smtp_server.received == []


def test_the_sent_reply_threads_on_the_customers_last_message_and_carries_the_reply_token(
    settings, email_ticket, queued, smtp_server, django_capture_on_commit_callbacks
):
    agent = UserFactory(first_name="Ann", last_name="Agent")
    with django_capture_on_commit_callbacks(execute=True):
        mail = reply_send(
            ticket_id=email_ticket.id,
            author=agent,
            body="We fixed it.",
            to=["maria@example.com"],
            cc=["boss@example.com"],
            uploads=[
                ReplyUpload(fileobj=io.BytesIO(png_bytes()), name="fix.png", size_bytes=len(png_bytes()))
            ],
        )
    assert outbound_email_send(outbound_email_id=queued[0]) == OutboundEmail.Status.SENT
    got = smtp_server.wait_for(1)[0]
    msg = got.message
    assert sorted(got.rcpt_tos) == ["boss@example.com", "maria@example.com"]
    assert msg["From"] == settings.TRIAGE_SUPPORT_EMAIL
    assert msg["Message-ID"] == f"<{mail.message_id}>"
    assert msg["In-Reply-To"] == "<first@example.com>"
    assert msg["References"] == "<older@example.com> <first@example.com>"
    assert email_ticket.reference in msg["Subject"]
    reply_to = str(msg["Reply-To"])
    assert reply_token_find([reply_to], secret=settings.INBOUND_EMAIL_SECRET) == email_ticket.id
    parts = {part.get_content_type() for part in msg.walk()}
    assert "image/png" in parts
    mail.refresh_from_db()
    assert mail.status == OutboundEmail.Status.SENT and mail.attempts == 1 and mail.sent_at


def test_a_reply_with_a_file_that_is_not_an_image_is_refused_and_nothing_recorded(email_ticket, queued):
    from triage.adapters.media import MediaRejected

    with pytest.raises(MediaRejected):
        reply_send(
            ticket_id=email_ticket.id,
            author=UserFactory(),
            body="x",
            to=["maria@example.com"],
            uploads=[ReplyUpload(fileobj=io.BytesIO(b"%PDF-1.4 nope"), name="a.pdf", size_bytes=13)],
        )
    assert not OutboundEmail.objects.exists()


def test_sending_twice_sends_once(email_ticket, queued, smtp_server, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        mail = reply_send(ticket_id=email_ticket.id, author=None, body="Once", to=["maria@example.com"])
    outbound_email_send(outbound_email_id=mail.id)
    assert outbound_email_send(outbound_email_id=mail.id) == OutboundEmail.Status.SENT
    assert len(smtp_server.wait_for(1)) == 1
    assert OutboundEmail.objects.get().attempts == 1


def test_a_send_another_worker_holds_is_skipped_and_a_dead_workers_send_is_redone_with_the_same_id(
    email_ticket, queued, smtp_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        mail = reply_send(ticket_id=email_ticket.id, author=None, body="Hi", to=["maria@example.com"])
    OutboundEmail.objects.filter(id=mail.id).update(
        status=OutboundEmail.Status.SENDING, attempts=1, attempted_at=timezone.now()
    )
    assert outbound_email_send(outbound_email_id=mail.id) == OutboundEmail.Status.SENDING
    assert smtp_server.received == []
    # the worker that claimed it died: after the stale interval the send is redone, and recorded
    OutboundEmail.objects.filter(id=mail.id).update(attempted_at=timezone.now() - timedelta(minutes=10))
    assert outbound_email_send(outbound_email_id=mail.id) == OutboundEmail.Status.SENT
    assert smtp_server.wait_for(1)[0].message["Message-ID"] == f"<{mail.message_id}>"
    assert OutboundEmail.objects.get(id=mail.id).attempts == 2


def test_a_refusal_shows_failed_with_the_servers_reason_and_retry_sends_it_once(
    email_ticket, queued, smtp_server, django_capture_on_commit_callbacks
):
    smtp_server.refuse(550, "5.1.1 mailbox unknown")
    with django_capture_on_commit_callbacks(execute=True):
        mail = reply_send(ticket_id=email_ticket.id, author=None, body="Hi", to=["maria@example.com"])
    assert outbound_email_send(outbound_email_id=mail.id) == OutboundEmail.Status.FAILED
    mail.refresh_from_db()
    assert mail.error_message == "550 5.1.1 mailbox unknown" and mail.failure_kind == "refused"
    smtp_server.accept()
    with django_capture_on_commit_callbacks(execute=True):
        assert outbound_email_retry(outbound_email_id=mail.id) is True
    assert outbound_email_retry(outbound_email_id=mail.id) is False  # queued already, not failed
    assert queued == [mail.id, mail.id]
    assert outbound_email_send(outbound_email_id=mail.id) == OutboundEmail.Status.SENT
    assert len(smtp_server.wait_for(1)) == 1


def test_a_server_that_is_down_is_retried_then_the_mail_goes_once_it_is_back(
    email_ticket, queued, smtp_server, django_capture_on_commit_callbacks
):
    smtp_server.stop()
    with django_capture_on_commit_callbacks(execute=True):
        mail = reply_send(ticket_id=email_ticket.id, author=None, body="Hi", to=["maria@example.com"])
    with pytest.raises(SendRetryLater):
        outbound_email_send(outbound_email_id=mail.id)
    mail.refresh_from_db()
    assert mail.status == OutboundEmail.Status.QUEUED and mail.error_message.startswith("retrying: ")
    # the task's last retry records the failure instead of raising
    assert outbound_email_send(outbound_email_id=mail.id, final_attempt=True) == OutboundEmail.Status.FAILED
    assert "unreachable" in OutboundEmail.objects.get(id=mail.id).error_message
    smtp_server.start()
    outbound_email_retry(outbound_email_id=mail.id)
    assert outbound_email_send(outbound_email_id=mail.id) == OutboundEmail.Status.SENT
    assert len(smtp_server.wait_for(1)) == 1
    assert OutboundEmail.objects.get(id=mail.id).attempts == 3


def test_a_4xx_answer_is_retried_later(email_ticket, queued, smtp_server, django_capture_on_commit_callbacks):
    smtp_server.refuse(451, "4.7.1 greylisted, try again")
    with django_capture_on_commit_callbacks(execute=True):
        mail = reply_send(ticket_id=email_ticket.id, author=None, body="Hi", to=["maria@example.com"])
    with pytest.raises(SendRetryLater, match="451"):
        outbound_email_send(outbound_email_id=mail.id)


# --- acknowledgements ---------------------------------------------------------------------------


def test_an_acknowledgement_is_marked_auto_replied_and_one_per_sender_per_interval(
    settings, email_ticket, queued, smtp_server, django_capture_on_commit_callbacks
):
    settings.TRIAGE_ACK_MIN_INTERVAL_S = 3600
    with django_capture_on_commit_callbacks(execute=True):
        ack = ticket_acknowledge(
            ticket=email_ticket, recipient="maria@example.com", in_reply_to="first@example.com"
        )
        again = ticket_acknowledge(ticket=email_ticket, recipient="MARIA@example.com")
    assert ack is not None and again is None
    outbound_email_send(outbound_email_id=ack.id)
    msg = smtp_server.wait_for(1)[0].message
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["In-Reply-To"] == "<first@example.com>"
    assert email_ticket.reference in msg["Subject"] and email_ticket.reference in msg.get_content()
    # the interval passes: the next new ticket from her is acknowledged again
    AckThrottle.objects.update(last_sent_at=timezone.now() - timedelta(seconds=3601))
    assert ticket_acknowledge(ticket=email_ticket, recipient="maria@example.com") is not None


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_for_one_new_sender_let_exactly_one_through():
    if connection.vendor != "postgresql":
        pytest.skip("concurrent claims need a database that takes concurrent writers")
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def claim() -> None:
        from django.db import connection as conn

        barrier.wait()
        try:
            results.append(ack_claim(address="race@example.com"))
        finally:
            conn.close()

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
    assert AckThrottle.objects.count() == 1
