"""Model spend: a ticket's cost and a day's run totals (services/costs.py computes each run's)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import (
    Count,
    Sum,
)
from django.utils import timezone as dj_timezone

from triage.models import (
    TriageRun,
)


def utc_day_bounds(day: dt.date | None = None) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a UTC day: the spend cap resets at midnight UTC whatever TIME_ZONE says."""
    day = day or dj_timezone.now().astimezone(dt.UTC).date()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)


def ticket_cost_usd(*, ticket_id: int) -> Decimal:
    total = TriageRun.objects.filter(ticket_id=ticket_id).aggregate(total=Sum("cost_usd"))["total"]
    return total or Decimal("0")


@dataclass(frozen=True)
class RunStats:
    runs: int
    cost_usd: Decimal
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int


def daily_run_stats(*, day: dt.date | None = None, provider: str | None = None) -> RunStats:
    """Runs started on a UTC day: how many, their cost and tokens (optionally one provider's)."""
    start, end = utc_day_bounds(day)
    qs = TriageRun.objects.filter(started_at__gte=start, started_at__lt=end)
    if provider:
        qs = qs.filter(provider=provider)
    row = qs.aggregate(
        runs=Count("id"),
        cost_usd=Sum("cost_usd"),
        prompt_tokens=Sum("prompt_tokens"),
        cached_tokens=Sum("cached_tokens"),
        completion_tokens=Sum("completion_tokens"),
    )
    return RunStats(
        runs=row["runs"] or 0,
        cost_usd=row["cost_usd"] or Decimal("0"),
        prompt_tokens=row["prompt_tokens"] or 0,
        cached_tokens=row["cached_tokens"] or 0,
        completion_tokens=row["completion_tokens"] or 0,
    )


def daily_cost_usd(*, day: dt.date | None = None, provider: str | None = None) -> Decimal:
    return daily_run_stats(day=day, provider=provider).cost_usd
