"""The periodic sweep (services/sweep.py) against every intermediate state a lost message or a killed
worker can leave behind: each stuck row is requeued, or failed with a reason a person can read.

Intermediate states: Ticket PROCESSING/TRIAGING, Attachment QUEUED/PROCESSING, TriageRun RUNNING,
InboundEmail RECEIVED/PROCESSING, ReportExport QUEUED/RUNNING.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from tests.factories import AttachmentFactory, TicketFactory
from triage import tasks
from triage.models import Attachment, InboundEmail, ReportExport, Ticket, TriageRun
from triage.services import sweep

pytestmark = pytest.mark.django_db

OLD = timedelta(hours=1)


@pytest.fixture
def queued(monkeypatch, settings) -> list[tuple[str, dict]]:
    """What the sweep enqueues, by task (the broker itself is exercised by the worker tests)."""
    settings.TRIAGE_STALE_AFTER_S = 600
    sent: list[tuple[str, dict]] = []
    for name in (
        "ticket_triage_task",
        "attachment_process_task",
        "inbound_email_process_task",
        "report_export_run_task",
    ):
        task = getattr(tasks, name)
        monkeypatch.setattr(task, "delay", lambda _name=name, **kw: sent.append((_name, kw)))
    return sent


def _age(model, row_id: int, field: str) -> None:
    model.objects.filter(id=row_id).update(**{field: timezone.now() - OLD})


def _email(status: str, n: int = 1) -> InboundEmail:
    key = default_storage.save(f"inbound/stuck-{n}.eml", ContentFile(b"Subject: stuck\r\n\r\nbody\r\n"))
    email = InboundEmail.objects.create(
        dedupe_key=f"stuck-{n}", message_id=f"stuck-{n}@example.com", source="raw", raw=key,
        sha256="0" * 64, size_bytes=30, status=status, subject="Stuck mail", from_email="a@example.com",
    )  # fmt: skip
    _age(InboundEmail, email.id, "received_at")
    return email


def test_a_processing_ticket_whose_attachments_all_finished_is_sent_on_to_triage(
    queued, django_capture_on_commit_callbacks
):
    ticket = TicketFactory(status=Ticket.Status.PROCESSING)
    AttachmentFactory(ticket=ticket, status=Attachment.Status.DONE)
    _age(Ticket, ticket.id, "updated_at")
    waiting = TicketFactory(status=Ticket.Status.PROCESSING)  # still has work in flight: left alone
    AttachmentFactory(ticket=waiting, status=Attachment.Status.PROCESSING)
    _age(Ticket, waiting.id, "updated_at")

    with django_capture_on_commit_callbacks(execute=True):
        done = sweep.sweep_run()
    assert done["settled"] == 1
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.TRIAGING
    # enqueued by the settling step once, and not again by the TRIAGING requeue (same sweep or next)
    assert [q for q in queued if q[0] == "ticket_triage_task"] == [
        ("ticket_triage_task", {"ticket_id": ticket.id})
    ]
    assert Ticket.objects.get(id=waiting.id).status == Ticket.Status.PROCESSING
    queued.clear()
    assert sweep.sweep_run()["tickets"] == 0 and not [q for q in queued if q[0] == "ticket_triage_task"]


def test_a_queued_attachment_is_requeued_then_failed_with_a_reason_and_its_ticket_moves_on(
    queued, django_capture_on_commit_callbacks
):
    ticket = TicketFactory(status=Ticket.Status.PROCESSING)
    attachment = AttachmentFactory(ticket=ticket, status=Attachment.Status.QUEUED)
    _age(Attachment, attachment.id, "created_at")
    now = timezone.now()
    for n in range(3):  # one requeue per stale period
        assert sweep.sweep_run(now=now + timedelta(hours=n))["attachments"] == 1
    assert [q[0] for q in queued] == ["attachment_process_task"] * 3
    with django_capture_on_commit_callbacks(execute=True):
        done = sweep.sweep_run(now=now + timedelta(hours=3))
    assert done["failed"] == 1 and done["attachments"] == 0
    attachment.refresh_from_db()
    assert attachment.status == Attachment.Status.FAILED
    assert "never finished" in attachment.reject_reason
    assert Ticket.objects.get(id=ticket.id).status == Ticket.Status.TRIAGING
    assert queued[-1] == ("ticket_triage_task", {"ticket_id": ticket.id})


@pytest.mark.parametrize("status", [InboundEmail.Status.RECEIVED, InboundEmail.Status.PROCESSING])
def test_an_inbound_mail_never_parsed_is_requeued_then_quarantined_as_a_ticket(queued, status):
    email = _email(status)
    fresh = _email(InboundEmail.Status.RECEIVED, n=2)
    InboundEmail.objects.filter(id=fresh.id).update(received_at=timezone.now())
    now = timezone.now()
    assert sweep.sweep_run(now=now)["emails"] == 1
    assert queued == [("inbound_email_process_task", {"inbound_email_id": email.id})]
    assert InboundEmail.objects.get(id=fresh.id).sweeps == 0  # a recent mail is left to its job
    fresh.delete()
    assert sweep.sweep_run(now=now + timedelta(seconds=60))["emails"] == 0  # gives that job its time
    for n in range(1, 3):
        assert sweep.sweep_run(now=now + timedelta(hours=n))["emails"] == 1
    done = sweep.sweep_run(now=now + timedelta(hours=3))
    assert done["failed"] == 1
    email.refresh_from_db()
    assert email.status == InboundEmail.Status.QUARANTINED and email.failure_kind == "bug"
    assert "never finished" in email.error_message
    assert email.ticket is not None and email.ticket.status == Ticket.Status.MANUAL_TRIAGE


def test_a_queued_export_is_requeued_and_one_running_past_its_time_limit_is_failed(queued):
    user = get_user_model().objects.create_user("mgr", password="x")
    waiting = ReportExport.objects.create(requested_by=user, format="csv")
    _age(ReportExport, waiting.id, "created_at")
    running = ReportExport.objects.create(requested_by=user, format="csv", status=ReportExport.Status.RUNNING)
    _age(ReportExport, running.id, "created_at")  # an hour: may still be running (limit ~61 min)
    fresh = ReportExport.objects.create(requested_by=user, format="csv")

    done = sweep.sweep_run()
    assert done["exports"] == 1 and done["failed"] == 0
    assert queued == [("report_export_run_task", {"export_id": waiting.id})]
    assert ReportExport.objects.get(id=running.id).status == ReportExport.Status.RUNNING

    later = timezone.now() + timedelta(hours=2)
    done = sweep.sweep_run(now=later)
    running.refresh_from_db()
    assert running.status == ReportExport.Status.FAILED and "ask for it again" in running.error_message
    assert ReportExport.objects.get(id=fresh.id).status == ReportExport.Status.QUEUED


def test_an_abandoned_run_is_closed_and_its_ticket_requeued(queued):
    ticket = TicketFactory(status=Ticket.Status.TRIAGING)
    run = TriageRun.objects.create(ticket=ticket, provider="kimi", status=TriageRun.Status.RUNNING)
    _age(TriageRun, run.id, "started_at")
    _age(Ticket, ticket.id, "updated_at")
    done = sweep.sweep_run()
    assert done["runs"] == 1 and done["tickets"] == 1
    run.refresh_from_db()
    assert run.status == TriageRun.Status.FAILED and run.error_kind == TriageRun.ErrorKind.TIMEOUT
    assert "abandoned" in run.error_message
    assert queued == [("ticket_triage_task", {"ticket_id": ticket.id})]


def test_a_ticket_whose_triage_is_running_is_not_sent_to_triage_a_second_time(queued):
    ticket = TicketFactory(status=Ticket.Status.TRIAGING)
    _age(Ticket, ticket.id, "updated_at")  # asked for long ago (media took a while) ...
    TriageRun.objects.create(
        ticket=ticket, provider="kimi", status=TriageRun.Status.RUNNING
    )  # ... running now
    done = sweep.sweep_run()
    assert done["tickets"] == 0 and queued == []
    assert TriageRun.objects.get(ticket=ticket).status == TriageRun.Status.RUNNING


def test_media_that_took_long_counts_the_wait_for_triage_from_when_it_settled(queued):
    ticket = TicketFactory(status=Ticket.Status.PROCESSING)
    AttachmentFactory(ticket=ticket, status=Attachment.Status.DONE)
    _age(Ticket, ticket.id, "updated_at")  # created an hour ago; its recording just finished
    from triage.services.media import ticket_media_settle

    assert ticket_media_settle(ticket_id=ticket.id)
    assert Ticket.objects.get(id=ticket.id).updated_at > timezone.now() - timedelta(minutes=1)
    assert sweep.sweep_run()["tickets"] == 0  # its triage job is queued, not stuck
