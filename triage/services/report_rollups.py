"""The report rollups: the dashboard's figures per day, rebuilt from the raw rows for each day a
change touched.

Database triggers log the UTC day of every ticket, run and review decision written (ReportDirtyDay,
in the writer's transaction: no service can forget it, nor a bulk update or the admin).
`report_rollups_refresh` rebuilds the local days around each logged day from the raw rows and
deletes exactly the log rows it read: idempotent (a day rebuilt twice gives the same rows), and a
change committed meanwhile stays logged for the next refresh. The dashboard refreshes before it
reads (a handful of days after ordinary work), beat every minute, and `manage.py
report_rollups_rebuild` builds every day (after a change of prices or TIME_ZONE).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Sum
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import TruncDate
from django.utils import timezone

from triage.fields import CLASSIFIED_FIELDS
from triage.models import (
    ReportDirtyDay,
    ReportDurationDay,
    ReportReviewDay,
    ReportRunDay,
    ReportTicketDay,
    ReviewDecision,
    Ticket,
    TriageRun,
)
from triage.selectors.reports import Dashboard, ReportFilters, run_cost_expression

# Days rebuilt per transaction: a backfill of years commits as it goes.
BATCH_DAYS = 31
# Two refreshes rebuilding one day at once (the dashboard and beat) would each delete the day's
# rows and each insert theirs: one transaction-scoped advisory lock serializes rebuilds.
_REBUILD_LOCK = 0x7269_6C6C  # "rill"


def _lock_rebuilds() -> None:
    if connection.vendor == "postgresql":  # SQLite serializes writing transactions by itself
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_REBUILD_LOCK])


def duration_bucket(seconds: float) -> float:
    """Seconds as stored in ReportDurationDay: whole seconds below 100 s, then steps of 1 %
    (a value is off by at most 0.5 %). A day and group holds a few hundred distinct values
    instead of one per second: at 1,000,000 tickets the all-time durations read 440,000 rows
    with whole seconds up to 10,000 s (197 ms), a tenth of that with these steps."""
    if seconds < 100:
        return float(round(seconds))
    step = round(math.log(seconds) / _LOG_STEP)
    return round(math.exp(step * _LOG_STEP), 1)


_LOG_STEP = math.log(1.01)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def report_rollups_refresh(*, limit: int = 10_000) -> int:
    """Rebuild the days logged since the last refresh. Returns the number of days rebuilt."""
    logged = list(ReportDirtyDay.objects.order_by("id").values_list("id", "utc_day")[:limit])
    if not logged:
        return 0
    # A UTC day spans parts of the local days on either side of it, whatever TIME_ZONE is.
    days = sorted({utc + timedelta(days=d) for _, utc in logged for d in (-1, 0, 1)})
    for i in range(0, len(days), BATCH_DAYS):
        with transaction.atomic():
            _lock_rebuilds()
            for day in days[i : i + BATCH_DAYS]:
                _rebuild_day(day)
    ReportDirtyDay.objects.filter(id__in=[i for i, _ in logged]).delete()
    return len(days)


def report_dashboard_current(*, filters: ReportFilters) -> Dashboard:
    """The dashboard from the rollups, after rebuilding the days changed since the last refresh
    (after ordinary work a few days, a few ms each): always the figures of the raw rows."""
    from triage.selectors.rollups import report_dashboard_from_rollups

    report_rollups_refresh()
    return report_dashboard_from_rollups(filters=filters)


def report_rollups_rebuild(*, days: Iterable[date] | None = None) -> int:
    """Rebuild the given local days, or every day that has tickets (and drop rows of days that
    have none any more)."""
    if days is None:
        with_tickets = set(
            Ticket.objects.annotate(day=TruncDate("created_at")).values_list("day", flat=True).distinct()
        )
        with_rows = set(ReportTicketDay.objects.values_list("day", flat=True).distinct())
        days = with_tickets | with_rows
    ordered = sorted(days)
    for i in range(0, len(ordered), BATCH_DAYS):
        with transaction.atomic():
            _lock_rebuilds()
            for day in ordered[i : i + BATCH_DAYS]:
                _rebuild_day(day)
    return len(ordered)


def _rebuild_day(day: date) -> None:
    start, end = _day_bounds(day)
    for model in (ReportTicketDay, ReportDurationDay, ReportRunDay, ReportReviewDay):
        model.objects.filter(day=day).delete()
    tickets = Ticket.objects.filter(created_at__gte=start, created_at__lt=end).order_by()
    if not tickets.exists():
        return
    keys = ("queue", "channel", "category")
    groups = (
        tickets.annotate(
            proposed=KeyTextTransform("value", KeyTransform("category", "latest_run__result")),
            has_run=Exists(TriageRun.objects.filter(ticket_id=OuterRef("id"))),
        )
        .values_list(*keys, "priority", "status", "proposed", "has_run")
        .annotate(n=Count("*"))
        .order_by()
    )
    ReportTicketDay.objects.bulk_create(
        ReportTicketDay(
            day=day,
            queue=queue,
            channel=channel,
            category=category,
            priority=priority,
            status=status,
            proposed_category=proposed or "",
            has_run=bool(has_run),
            tickets=n,
        )
        for queue, channel, category, priority, status, proposed, has_run, n in groups
    )
    durations: dict[tuple, list[float]] = defaultdict(lambda: [0, 0.0])
    for queue, channel, category, created, triaged, reviewed in tickets.filter(
        triaged_at__isnull=False
    ).values_list(*keys, "created_at", "triaged_at", "reviewed_at"):
        pairs = [("arrival_to_triaged", (triaged - created).total_seconds())]
        if reviewed is not None:
            pairs.append(("triaged_to_reviewed", (reviewed - triaged).total_seconds()))
        for kind, seconds in pairs:
            bucket = durations[(queue, channel, category, kind, duration_bucket(seconds))]
            bucket[0] += 1
            bucket[1] += seconds
    ReportDurationDay.objects.bulk_create(
        ReportDurationDay(
            day=day, queue=q, channel=ch, category=c, kind=k, seconds=s, tickets=n, seconds_sum=total
        )
        for (q, ch, c, k, s), (n, total) in durations.items()
    )
    runs = (
        TriageRun.objects.filter(ticket__created_at__gte=start, ticket__created_at__lt=end)
        .annotate(run_day=TruncDate("started_at"))
        .values_list(
            "ticket__queue", "ticket__channel", "ticket__category", "run_day", "status", "error_kind"
        )
        .annotate(
            n=Count("*"),
            prompt=Sum("prompt_tokens"),
            cached=Sum("cached_tokens"),
            completion=Sum("completion_tokens"),
            cost=Sum(run_cost_expression()),
        )
        .order_by()
    )
    ReportRunDay.objects.bulk_create(
        ReportRunDay(
            day=day,
            queue=q,
            channel=ch,
            category=c,
            run_day=run_day,
            status=status,
            error_kind=error_kind or "",
            runs=n,
            prompt_tokens=prompt or 0,
            cached_tokens=cached or 0,
            completion_tokens=completion or 0,
            cost_usd=float(cost or 0.0),
        )
        for q, ch, c, run_day, status, error_kind, n, prompt, cached, completion, cost in runs
    )
    reviews: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    decisions = ReviewDecision.objects.filter(
        run__isnull=False, ticket__created_at__gte=start, ticket__created_at__lt=end
    ).values_list(
        "ticket__queue", "ticket__channel", "ticket__category", "created_at", "run__result", "after"
    )
    for q, ch, c, created, result, after in decisions.iterator(2000):
        if isinstance(result, str):
            result = json.loads(result)
        if not result:
            continue
        decision_day = timezone.localtime(created).date()
        for name in CLASSIFIED_FIELDS:
            proposed = (result.get(name) or {}).get("value", "")
            if proposed:
                reviews[(q, ch, c, decision_day, name)][0 if after.get(name) == proposed else 1] += 1
    ReportReviewDay.objects.bulk_create(
        ReportReviewDay(
            day=day,
            queue=q,
            channel=ch,
            category=c,
            decision_day=decision_day,
            field=name,
            accepted=accepted,
            corrected=corrected,
        )
        for (q, ch, c, decision_day, name), (accepted, corrected) in reviews.items()
    )
