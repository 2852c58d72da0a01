"""Service levels met: of the targets that are settled (met, or missed: done late or overdue now),
the share met, overall, per queue and per agent (the assignee, else the reviewer)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from triage.models import Ticket
from triage.selectors.reports import ReportFilters, report_ticket_list


@dataclass(frozen=True)
class SlaTally:
    key: str  # a queue value, an agent's name, or "" for all
    first_met: int
    first_missed: int
    resolve_met: int
    resolve_missed: int

    @staticmethod
    def _pct(met: int, missed: int) -> float | None:
        return round(100 * met / (met + missed), 1) if met + missed else None

    @property
    def first_pct(self) -> float | None:
        return self._pct(self.first_met, self.first_missed)

    @property
    def resolve_pct(self) -> float | None:
        return self._pct(self.resolve_met, self.resolve_missed)

    @property
    def met(self) -> int:
        return self.first_met + self.resolve_met

    @property
    def missed(self) -> int:
        return self.first_missed + self.resolve_missed

    @property
    def pct(self) -> float | None:
        return self._pct(self.met, self.missed)


@dataclass(frozen=True)
class SlaReport:
    overall: SlaTally
    by_queue: list[SlaTally]
    by_agent: list[SlaTally]


def _counts(now: datetime) -> dict[str, Count]:
    first_met = Q(
        sla_first_due_at__isnull=False, reviewed_at__isnull=False, reviewed_at__lte=F("sla_first_due_at")
    )
    # an open target is missed once its due time has passed on a running clock; while the ticket
    # is Pending the clock stands still: missed only if it was overdue already when it stopped
    running = Q(sla_paused_at__isnull=True)
    first_missed = Q(sla_first_due_at__isnull=False) & (
        Q(reviewed_at__gt=F("sla_first_due_at"))
        | Q(reviewed_at__isnull=True, sla_first_due_at__lt=now)
        & (running | Q(sla_first_due_at__lt=F("sla_paused_at")))
    )
    resolve_met = Q(
        sla_resolve_due_at__isnull=False, solved_at__isnull=False, solved_at__lte=F("sla_resolve_due_at")
    )
    resolve_missed = Q(sla_resolve_due_at__isnull=False) & (
        Q(solved_at__gt=F("sla_resolve_due_at"))
        | Q(solved_at__isnull=True, sla_resolve_due_at__lt=now)
        & (running | Q(sla_resolve_due_at__lt=F("sla_paused_at")))
    )
    return {
        "first_met": Count("id", filter=first_met),
        "first_missed": Count("id", filter=first_missed),
        "resolve_met": Count("id", filter=resolve_met),
        "resolve_missed": Count("id", filter=resolve_missed),
    }


def _tally(key: str, row: dict) -> SlaTally:
    return SlaTally(key, row["first_met"], row["first_missed"], row["resolve_met"], row["resolve_missed"])


def sla_report(*, filters: ReportFilters, now: datetime | None = None) -> SlaReport:
    """Three grouped counts over the filtered tickets that have a target."""
    now = now or timezone.now()
    tickets: QuerySet[Ticket] = (
        report_ticket_list(filters=filters)
        .filter(Q(sla_first_due_at__isnull=False) | Q(sla_resolve_due_at__isnull=False))
        .order_by()
    )
    counts = _counts(now)
    overall = _tally("", tickets.aggregate(**counts))
    by_queue = [
        _tally(row["queue"], row) for row in tickets.values("queue").annotate(**counts).order_by("queue")
    ]
    agent_rows = (
        tickets.annotate(agent=Coalesce("assignee_id", "reviewed_by_id"))
        .values("agent")
        .annotate(**counts)
        .order_by("agent")
    )
    rows = list(agent_rows)
    users = get_user_model().objects.in_bulk([r["agent"] for r in rows if r["agent"] is not None])
    by_agent = [
        _tally(
            (users[r["agent"]].get_full_name() or users[r["agent"]].get_username())
            if r["agent"] in users
            else "Nobody yet",
            r,
        )
        for r in rows
    ]
    by_agent.sort(key=lambda t: (t.key == "Nobody yet", t.key.lower()))
    return SlaReport(overall=overall, by_queue=by_queue, by_agent=by_agent)
