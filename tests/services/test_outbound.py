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


# --- acknowledgements of web and API tickets whose job was lost -----------------------------------


@pytest.fixture
def broker_refuses(monkeypatch) -> list[dict]:
    """The broker down at commit: the acknowledgement job's publish raises what kombu raises for a
    refused connection; RecordedFirstTask logs it and the ticket stays saved. Returns the attempts."""
    from kombu.exceptions import OperationalError

    from triage.tasks import ticket_acknowledge_task, ticket_triage_task

    attempts: list[dict] = []

    def refuse(**kw: object) -> None:
        attempts.append(kw)
        raise OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    monkeypatch.setattr(ticket_acknowledge_task, "delay", refuse)
    monkeypatch.setattr(ticket_triage_task, "delay", lambda **kw: None)
    return attempts


def _web_ticket(django_capture_on_commit_callbacks, *, email: str = "ana@example.com") -> Ticket:
    from triage.services.tickets import ticket_create

    with django_capture_on_commit_callbacks(execute=True):
        return ticket_create(subject="Refund", description="Charged twice", requester_email=email)


def _age(ticket: Ticket, *, seconds: int) -> None:
    """The ticket was created (and its acknowledgement became owed) this long ago."""
    then = timezone.now() - timedelta(seconds=seconds)
    Ticket.objects.filter(id=ticket.id).update(created_at=then, ack_due_at=then)


def _send_all(queued: list[int]) -> None:
    for outbound_email_id in dict.fromkeys(queued):  # as the worker would, each published send
        outbound_email_send(outbound_email_id=outbound_email_id)


def test_an_acknowledgement_lost_at_commit_is_sent_once_by_the_sweep(
    settings, broker_refuses, queued, smtp_server, django_capture_on_commit_callbacks
):
    from triage.services.outbound import ticket_acknowledge_sweep

    settings.TRIAGE_ACK_ENABLED = True
    settings.TRIAGE_ACK_SWEEP_AFTER_S = 120
    ticket = _web_ticket(django_capture_on_commit_callbacks)
    assert broker_refuses == [{"ticket_id": ticket.id}]  # the job was tried and refused
    assert not OutboundEmail.objects.exists()
    assert Ticket.objects.get(id=ticket.id).ack_due_at is not None
    # too young: the job may still be on its way
    assert ticket_acknowledge_sweep() == {"sent": 0, "skipped": 0, "expired": 0}
    _age(ticket, seconds=180)
    with django_capture_on_commit_callbacks(execute=True):
        assert ticket_acknowledge_sweep() == {"sent": 1, "skipped": 0, "expired": 0}
        assert ticket_acknowledge_sweep() == {"sent": 0, "skipped": 0, "expired": 0}  # next beat
    ack = OutboundEmail.objects.get()
    assert ack.kind == OutboundEmail.Kind.ACK and ack.to == ["ana@example.com"]
    assert Ticket.objects.get(id=ticket.id).ack_due_at is None
    _send_all(queued)
    msg = smtp_server.wait_for(1)[0].message
    assert ticket.reference in msg["Subject"] and msg["Auto-Submitted"] == "auto-replied"
    assert len(smtp_server.received) == 1


def test_the_job_and_the_sweep_each_run_twice_write_one_acknowledgement(
    settings, queued, smtp_server, django_capture_on_commit_callbacks, monkeypatch
):
    from triage.services.outbound import ticket_acknowledge_later, ticket_acknowledge_sweep
    from triage.tasks import ticket_acknowledge_task, ticket_triage_task

    settings.TRIAGE_ACK_ENABLED = True
    jobs: list[dict] = []
    monkeypatch.setattr(ticket_acknowledge_task, "delay", lambda **kw: jobs.append(kw))
    monkeypatch.setattr(ticket_triage_task, "delay", lambda **kw: None)
    ticket = _web_ticket(django_capture_on_commit_callbacks)
    _age(ticket, seconds=600)  # a slow queue: the sweep may reach it before or after the job
    with django_capture_on_commit_callbacks(execute=True):
        ticket_acknowledge_sweep()
        for job in jobs * 2:  # the job, delivered twice
            ticket_acknowledge_task.run(**job)
        ticket_acknowledge_sweep()
    assert OutboundEmail.objects.filter(ticket=ticket, kind=OutboundEmail.Kind.ACK).count() == 1
    _send_all(queued)
    smtp_server.wait_for(1)
    assert len(smtp_server.received) == 1
    # and the other order: the job first, then the sweep (a second ticket from another sender)
    jobs.clear()
    other = _web_ticket(django_capture_on_commit_callbacks, email="bo@example.com")
    _age(other, seconds=600)
    assert ticket_acknowledge_later(**jobs[0]) is not None
    assert ticket_acknowledge_sweep() == {"sent": 0, "skipped": 0, "expired": 0}
    assert ticket_acknowledge_later(**jobs[0]) is None
    assert OutboundEmail.objects.filter(ticket=other, kind=OutboundEmail.Kind.ACK).count() == 1


def test_tickets_owed_an_acknowledgement_past_the_cutoff_are_given_up_not_mailed(
    settings, broker_refuses, queued, django_capture_on_commit_callbacks
):
    from triage.services.outbound import ticket_acknowledge_sweep

    settings.TRIAGE_ACK_ENABLED = True
    settings.TRIAGE_ACK_SWEEP_MAX_AGE_S = 86400
    old = _web_ticket(django_capture_on_commit_callbacks, email="old@example.com")
    recent = _web_ticket(django_capture_on_commit_callbacks, email="recent@example.com")
    _age(old, seconds=86400 + 60)
    _age(recent, seconds=86400 - 60)
    with django_capture_on_commit_callbacks(execute=True):
        assert ticket_acknowledge_sweep() == {"sent": 1, "skipped": 0, "expired": 1}
    assert list(OutboundEmail.objects.values_list("ticket_id", flat=True)) == [recent.id]
    assert not Ticket.objects.filter(ack_due_at__isnull=False).exists()  # neither is looked at again
    with django_capture_on_commit_callbacks(execute=True):
        assert ticket_acknowledge_sweep() == {"sent": 0, "skipped": 0, "expired": 0}
    assert not OutboundEmail.objects.filter(ticket=old).exists()


def test_the_sweep_keeps_the_throttle_and_the_switch_and_decides_each_ticket_once(
    settings, broker_refuses, queued, django_capture_on_commit_callbacks
):
    """A throttled sender stays unacknowledged for that ticket even once the interval has passed;
    acknowledgements switched off between the post and the sweep are not sent."""
    from triage.services.outbound import ticket_acknowledge_sweep

    settings.TRIAGE_ACK_ENABLED = True
    settings.TRIAGE_ACK_MIN_INTERVAL_S = 3600
    first = _web_ticket(django_capture_on_commit_callbacks, email="ana@example.com")
    second = _web_ticket(django_capture_on_commit_callbacks, email="ANA@example.com")
    _age(first, seconds=300)
    _age(second, seconds=200)
    with django_capture_on_commit_callbacks(execute=True):
        assert ticket_acknowledge_sweep() == {"sent": 1, "skipped": 1, "expired": 0}
    assert list(OutboundEmail.objects.values_list("ticket_id", flat=True)) == [first.id]
    AckThrottle.objects.update(last_sent_at=timezone.now() - timedelta(seconds=3601))
    with django_capture_on_commit_callbacks(execute=True):
        assert ticket_acknowledge_sweep() == {"sent": 0, "skipped": 0, "expired": 0}
    assert not OutboundEmail.objects.filter(ticket=second).exists()

    off = _web_ticket(django_capture_on_commit_callbacks, email="cy@example.com")
    _age(off, seconds=300)
    settings.TRIAGE_ACK_ENABLED = False
    with django_capture_on_commit_callbacks(execute=True):
        assert ticket_acknowledge_sweep() == {"sent": 0, "skipped": 1, "expired": 0}
    assert not OutboundEmail.objects.filter(ticket=off).exists()


@pytest.mark.parametrize(("email", "acknowledge"), [("", True), ("ana@example.com", False)])
def test_a_ticket_owed_no_acknowledgement_is_never_swept(
    settings, broker_refuses, email, acknowledge, django_capture_on_commit_callbacks
):
    from triage.services.outbound import ticket_acknowledge_sweep
    from triage.services.tickets import ticket_create

    settings.TRIAGE_ACK_ENABLED = True
    with django_capture_on_commit_callbacks(execute=True):
        ticket = ticket_create(subject="Q", description="d", requester_email=email, acknowledge=acknowledge)
    Ticket.objects.filter(id=ticket.id).update(created_at=timezone.now() - timedelta(hours=1))
    assert Ticket.objects.get(id=ticket.id).ack_due_at is None
    assert ticket_acknowledge_sweep() == {"sent": 0, "skipped": 0, "expired": 0}
    assert not OutboundEmail.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_job_and_the_sweep_racing_on_one_ticket_write_one_acknowledgement(settings, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("a race needs a database that takes concurrent writers")
    from triage.services.outbound import ticket_acknowledge_later, ticket_acknowledge_sweep
    from triage.tasks import ticket_acknowledge_task, ticket_triage_task

    settings.TRIAGE_ACK_ENABLED = True
    settings.TRIAGE_ACK_MIN_INTERVAL_S = (
        0  # the sender's throttle lets each through: the ticket's lock decides
    )
    monkeypatch.setattr(ticket_acknowledge_task, "delay", lambda **kw: None)
    monkeypatch.setattr(ticket_triage_task, "delay", lambda **kw: None)
    monkeypatch.setattr(outbound_email_send_task, "delay", lambda **kw: None)
    from triage.services.tickets import ticket_create

    ticket = ticket_create(subject="Refund", description="d", requester_email="race@example.com")
    _age(ticket, seconds=600)
    barrier = threading.Barrier(6)
    results: list[object] = []

    def run(kind: int) -> None:
        from django.db import connection as conn

        barrier.wait()
        try:
            if kind % 2:
                results.append(ticket_acknowledge_later(ticket_id=ticket.id))
            else:
                results.append(ticket_acknowledge_sweep()["sent"])
        finally:
            conn.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent = [r for r in results if r not in (None, 0)]
    assert len(results) == 6 and len(sent) == 1
    assert OutboundEmail.objects.filter(ticket=ticket, kind=OutboundEmail.Kind.ACK).count() == 1
