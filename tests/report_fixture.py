"""A small week of tickets whose report numbers are worked out by hand in the docstrings below.

Range 2026-03-02 .. 2026-03-04 (UTC):
  T1 03-02 10:00 WEB   kimi-k2.6 10000 prompt (2000 cached) + 1000 out = $0.01192; triaged +60 s,
                       reviewed +600 s, accepted as proposed (bug/high/engineering); 1 image, 1 rejected
  T2 03-02 11:00 EMAIL local (free); triaged +120 s, reviewed +1200 s, category bug->billing and
                       queue engineering->billing_team corrected
  T3 03-03 09:00 WEB   kimi-k2.5 2000 prompt + 500 out = $0.0027; proposed how_to/low/tier1; triaged +180 s
  T4 03-03 12:00 EMAIL kimi-k2.6 run timed out, 1200 prompt = $0.00114; manual triage; "triaged" +240 s
  T5 03-06 08:00 WEB   outside the range
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import Group

from tests.factories import (
    PROPOSAL,
    AttachmentFactory,
    TriageRunFactory,
    UserFactory,
    failed_ticket,
    taxonomy_rows,
    triaged_ticket,
)
from triage.models import Attachment, ReviewDecision, Ticket, TriageRun
from triage.selectors.reports import ReportFilters
from triage.services.review import review_record

RANGE = ReportFilters(date_from=datetime(2026, 3, 2).date(), date_to=datetime(2026, 3, 4).date())


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


@dataclass
class Week:
    t1: Ticket
    t2: Ticket
    t3: Ticket
    t4: Ticket
    t5: Ticket
    reviewer: object


def _place(ticket: Ticket, *, created: datetime, triaged_s: int, reviewed_s: int | None = None) -> Ticket:
    triaged = created + timedelta(seconds=triaged_s)
    reviewed = triaged + timedelta(seconds=reviewed_s) if reviewed_s is not None else None
    Ticket.objects.filter(id=ticket.id).update(created_at=created, triaged_at=triaged, reviewed_at=reviewed)
    TriageRun.objects.filter(ticket=ticket).update(started_at=triaged)
    if reviewed:
        ReviewDecision.objects.filter(ticket=ticket).update(created_at=reviewed)
    ticket.refresh_from_db()
    return ticket


def _run(ticket: Ticket, **fields) -> None:
    TriageRun.objects.filter(id=ticket.latest_run_id).update(**fields)


def build_week() -> Week:
    taxonomy_rows()
    reviewer = UserFactory(username="rita")
    t1 = triaged_ticket(subject="Card payments fail", channel=Ticket.Channel.WEB)
    _run(
        t1,
        provider="kimi",
        model="kimi-k2.6",
        prompt_tokens=10000,
        cached_tokens=2000,
        completion_tokens=1000,
    )
    AttachmentFactory(ticket=t1)
    AttachmentFactory(ticket=t1, status=Attachment.Status.REJECTED, reject_reason="not an image")
    review_record(ticket_id=t1.id, user=reviewer, values={})  # accept as proposed
    t1 = _place(t1, created=at(2, 10), triaged_s=60, reviewed_s=600)

    t2 = triaged_ticket(subject="=cmd|' /C calc'!A0", channel=Ticket.Channel.EMAIL)
    review_record(ticket_id=t2.id, user=reviewer, values={"category": "billing", "queue": "billing_team"})
    t2 = _place(t2, created=at(2, 11), triaged_s=120, reviewed_s=1200)

    how_to = {
        **PROPOSAL,
        "category": {"value": "how_to", "confidence": 0.7},
        "priority": {"value": "low", "confidence": 0.8},
        "queue": {"value": "tier1", "confidence": 0.9},
    }
    t3 = triaged_ticket(subject="How do I export?", result=how_to, channel=Ticket.Channel.WEB)
    _run(t3, provider="kimi", model="kimi-k2.5", prompt_tokens=2000, cached_tokens=0, completion_tokens=500)
    t3 = _place(t3, created=at(3, 9), triaged_s=180)

    t4 = failed_ticket(subject="Webhook stopped", channel=Ticket.Channel.EMAIL)
    _run(t4, provider="kimi", model="kimi-k2.6", prompt_tokens=1200, cached_tokens=0, completion_tokens=0)
    t4 = _place(t4, created=at(3, 12), triaged_s=240)

    t5 = triaged_ticket(subject="Later", channel=Ticket.Channel.WEB)
    TriageRunFactory(ticket=t5, provider="kimi", model="kimi-k2.6", prompt_tokens=99999)
    t5 = _place(t5, created=at(6, 8), triaged_s=30)
    return Week(t1=t1, t2=t2, t3=t3, t4=t4, t5=t5, reviewer=reviewer)


def manager_user(**fields):
    user = UserFactory(**fields)
    group, _ = Group.objects.get_or_create(name="managers")
    user.groups.add(group)
    return user
