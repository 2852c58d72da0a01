"""One ticket's service-level targets as they stand now: for its page and its API representation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from triage.models import Ticket

SOON_S = 3600  # under an hour left: "soon" (as the queue's Due cell)


@dataclass(frozen=True)
class SlaTarget:
    key: str  # "first_decision" (the first human decision, reviewed_at) or "resolution" (solved_at)
    title: str
    due_at: datetime
    done_at: datetime | None
    # open: "ok", "soon" (under an hour left), "overdue", "paused" (Pending: the clock stands still);
    # settled: "met" or "missed" (done late)
    state: str
    seconds_left: int | None  # open targets only; negative once overdue; while paused, as it stopped


def _target(
    key: str,
    title: str,
    due: datetime | None,
    done: datetime | None,
    now: datetime,
    paused_at: datetime | None,
):
    if due is None:
        return None
    if done is not None:
        return SlaTarget(key, title, due, done, "met" if done <= due else "missed", None)
    if paused_at is not None:  # the time left when the clock stopped; already overdue stays so
        left = int((due - paused_at).total_seconds())
        return SlaTarget(key, title, due, None, "overdue" if left < 0 else "paused", left)
    left = int((due - now).total_seconds())
    state = "overdue" if left < 0 else "soon" if left < SOON_S else "ok"
    return SlaTarget(key, title, due, None, state, left)


def ticket_sla_targets(ticket: Ticket, *, now: datetime | None = None) -> list[SlaTarget]:
    """The ticket's targets that a policy set (none without a policy for its priority and queue)."""
    now = now or timezone.now()
    paused = getattr(ticket, "sla_paused_at", None)
    targets = [
        _target("first_decision", "First decision", ticket.sla_first_due_at, ticket.reviewed_at, now, paused),
        _target("resolution", "Resolution", ticket.sla_resolve_due_at, ticket.solved_at, now, paused),
    ]
    return [t for t in targets if t is not None]
