"""The sweep composes each domain's requeue of stale work (the states one by one are in
tests/resilience/test_sweep.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import AttachmentFactory
from triage import tasks
from triage.models import Attachment, Ticket, TriageRun
from triage.services import sweep

pytestmark = pytest.mark.django_db


def _ticket(**kw) -> Ticket:
    defaults = {
        "subject": "Rechnung doppelt abgebucht",
        "description": "Zweimal abgebucht.",
        "status": Ticket.Status.TRIAGING,
    }
    return Ticket.objects.create(**{**defaults, **kw})


def test_the_sweep_requeues_stuck_work_and_closes_abandoned_runs(taxonomy, settings, monkeypatch):
    queued: list[tuple[str, dict]] = []
    monkeypatch.setattr(tasks.ticket_triage_task, "delay", lambda **kw: queued.append(("triage", kw)))
    monkeypatch.setattr(tasks.attachment_process_task, "delay", lambda **kw: queued.append(("media", kw)))
    settings.TRIAGE_STALE_AFTER_S = 600
    old = timezone.now() - timedelta(hours=1)

    stuck_ticket = _ticket()
    fresh_ticket = _ticket()
    Ticket.objects.filter(id=stuck_ticket.id).update(updated_at=old)
    stuck_attachment = AttachmentFactory(
        ticket=_ticket(status=Ticket.Status.PROCESSING), status=Attachment.Status.PROCESSING
    )
    Attachment.objects.filter(id=stuck_attachment.id).update(created_at=old)
    abandoned = TriageRun.objects.create(
        ticket=fresh_ticket, provider="kimi", status=TriageRun.Status.RUNNING
    )
    TriageRun.objects.filter(id=abandoned.id).update(started_at=old)

    done = sweep.sweep_run()
    assert done == {"attachments": 1, "tickets": 1, "runs": 1, "catch_up": 0} | dict.fromkeys(
        ("settled", "emails", "exports", "failed"), 0
    )
    assert sorted(queued) == [
        ("media", {"attachment_id": stuck_attachment.id}),
        ("triage", {"ticket_id": stuck_ticket.id}),
    ]
    abandoned.refresh_from_db()
    assert abandoned.status == TriageRun.Status.FAILED and "abandoned" in abandoned.error_message
    queued.clear()
    assert sweep.sweep_run()["tickets"] == 0 and queued == []  # not again on the next sweep
