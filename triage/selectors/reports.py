"""Reads for the manager reports: the filtered tickets, the cost of runs in SQL, the dashboard's numbers
(each export row is written by services/export_engine.py).

Every number is about the tickets *created* in the filter's date range (and matching its queue,
channel and category), so the dashboard, the exports and the weekly email always agree.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import (
    Case,
    Count,
    ExpressionWrapper,
    F,
    FloatField,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import TruncDate
from django.utils import timezone

from triage.fields import CLASSIFIED_FIELDS
from triage.models import REVIEWED_STATES, ReviewDecision, Ticket, TriageRun
from triage.selectors.taxonomy import priority_ranks


@dataclass(frozen=True)
class ReportFilters:
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    queue: str = ""
    channel: str = ""
    category: str = ""

    def as_dict(self) -> dict[str, str]:
        """JSON-safe, for a task argument or a ReportExport row."""
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(self).items() if v}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReportFilters:
        def day(key: str) -> date | None:
            return date.fromisoformat(data[key]) if data.get(key) else None

        return cls(
            date_from=day("date_from"),
            date_to=day("date_to"),
            queue=data.get("queue", ""),
            channel=data.get("channel", ""),
            category=data.get("category", ""),
        )


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _ticket_lookups(filters: ReportFilters, prefix: str = "") -> dict[str, Any]:
    """The filter as ORM lookups on a ticket, or through a relation to one (prefix "ticket__"),
    so the runs and decisions of the filtered tickets are a join, not an IN (subquery)."""
    lookups: dict[str, Any] = {}
    if filters.date_from:
        lookups[f"{prefix}created_at__gte"] = _day_start(filters.date_from)
    if filters.date_to:
        lookups[f"{prefix}created_at__lt"] = _day_start(filters.date_to + timedelta(days=1))
    for name in ("queue", "channel", "category"):
        if getattr(filters, name):
            lookups[f"{prefix}{name}"] = getattr(filters, name)
    return lookups


def report_ticket_list(*, filters: ReportFilters) -> QuerySet[Ticket]:
    return Ticket.objects.filter(**_ticket_lookups(filters))


def report_ticket_count(*, filters: ReportFilters) -> int:
    return report_ticket_list(filters=filters).count()


# --- cost -----------------------------------------------------------------------------------


def _prices() -> dict[str, dict[str, float]]:
    return settings.TRIAGE_PRICES


def run_cost_expression() -> Case:
    """USD of one TriageRun, in SQL. Cached prompt tokens are part of prompt_tokens (OpenAI-style
    usage), billed at the cache-hit price; the local provider is free."""
    whens = [When(provider="local", then=Value(0.0))]
    for model, p in _prices().items():
        usd = ExpressionWrapper(
            (
                (F("prompt_tokens") - F("cached_tokens")) * Value(float(p["input"]))
                + F("cached_tokens") * Value(float(p["cached_input"]))
                + F("completion_tokens") * Value(float(p["output"]))
            )
            / Value(1_000_000.0),
            output_field=FloatField(),
        )
        whens.append(When(model=model, then=usd))
    return Case(*whens, default=Value(0.0), output_field=FloatField())


def run_cost_sql() -> tuple[str, list[float | str]]:
    parts: list[str] = ["CASE WHEN provider = 'local' THEN 0.0"]
    params: list[float | str] = []
    for model, p in _prices().items():
        parts.append(
            "WHEN model = %s THEN ((prompt_tokens - cached_tokens) * %s + cached_tokens * %s"
            " + completion_tokens * %s) / 1000000.0"
        )
        params += [model, float(p["input"]), float(p["cached_input"]), float(p["output"])]
    parts.append("ELSE 0.0 END")
    return " ".join(parts), params


# --- dashboard --------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL's percentile_cont, numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@dataclass
class Dashboard:
    days: list[date] = field(default_factory=list)
    tickets: int = 0
    volume_by_category: dict[str, dict[date, int]] = field(default_factory=dict)
    volume_by_channel: dict[str, dict[date, int]] = field(default_factory=dict)
    priority_mix: list[tuple[str, int]] = field(default_factory=list)
    # each priority value's rank (priority_ranks), read once: the mix's order and its colours
    priority_ranks: dict[str, int] = field(default_factory=dict)
    durations: dict[str, dict[str, float | int | None]] = field(default_factory=dict)
    review_by_field: dict[str, dict[str, int]] = field(default_factory=dict)
    review_by_day: dict[date, dict[str, int]] = field(default_factory=dict)
    category_matrix: dict[str, dict[str, int]] = field(default_factory=dict)
    cost_by_day: dict[date, dict[str, float]] = field(default_factory=dict)
    cost_total: float = 0.0
    tokens_total: int = 0
    triaged_tickets: int = 0
    failures_by_kind: list[tuple[str, int]] = field(default_factory=list)
    failures_by_day: dict[date, int] = field(default_factory=dict)
    manual_by_day: dict[date, int] = field(default_factory=dict)
    manual_total: int = 0
    failed_runs: int = 0
    reviewed: int = 0
    # tickets per status, the lifecycle's (Open, Pending, Solved, Closed) included
    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def cost_per_ticket(self) -> float | None:
        return self.cost_total / self.triaged_tickets if self.triaged_tickets else None

    @property
    def tokens_per_ticket(self) -> float | None:
        return self.tokens_total / self.triaged_tickets if self.triaged_tickets else None


def _duration_stats(qs: QuerySet[Ticket], start: str, end: str) -> dict[str, float | int | None]:
    """Median and p90 of end - start in seconds, computed in Python from one float a ticket (the
    portable path; PostgreSQL computes both pairs in one statement, see _pg_durations)."""
    values = [(e - s).total_seconds() for s, e in qs.values_list(start, end).iterator(2000)]
    return {"n": len(values), "median": percentile(values, 0.5), "p90": percentile(values, 0.9)}


def _pg_durations(tickets: QuerySet[Ticket]) -> dict[str, dict[str, float | int | None]]:
    """Both duration pairs in one pass (percentile_cont, the same interpolation as `percentile`),
    from the report index alone: a million tickets never come into this process."""
    inner, params = (
        tickets.order_by().values("created_at", "triaged_at", "reviewed_at").query.sql_with_params()
    )
    triaged = "EXTRACT(EPOCH FROM triaged_at - created_at)::float8"
    reviewed = "EXTRACT(EPOCH FROM reviewed_at - triaged_at)::float8"
    both = "triaged_at IS NOT NULL AND reviewed_at IS NOT NULL"
    sql = f"""
        SELECT count(*) FILTER (WHERE triaged_at IS NOT NULL),
               percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY {triaged})
                   FILTER (WHERE triaged_at IS NOT NULL),
               count(*) FILTER (WHERE {both}),
               percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY {reviewed}) FILTER (WHERE {both})
        FROM ({inner}) s
    """  # noqa: S608 - column names from this module; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        n1, q1, n2, q2 = cursor.fetchone()
    (m1, p1), (m2, p2) = q1 or (None, None), q2 or (None, None)
    return {
        "arrival_to_triaged": {"n": n1, "median": m1, "p90": p1},
        "triaged_to_reviewed": {"n": n2, "median": m2, "p90": p2},
    }


def _category_pairs(tickets: QuerySet[Ticket]) -> list[tuple[str | None, str, int]]:
    """(proposed category, final category, tickets) over the reviewed tickets with a model run,
    grouped in the database: a million reviewed tickets are a few dozen pairs."""
    reviewed = tickets.filter(status__in=REVIEWED_STATES, latest_run__isnull=False).order_by()
    if connection.vendor != "postgresql":
        pairs = (
            reviewed.annotate(
                proposed=KeyTextTransform("value", KeyTransform("category", "latest_run__result"))
            )
            .values_list("proposed", "category")
            .annotate(n=Count("*"))
        )
        return list(pairs)
    # The ORM's join hashes whole run rows (450 bytes with the result) and spilled 64 batches to
    # disk on 1M tickets; projecting each run to (id, proposed) first (OFFSET 0 keeps PostgreSQL
    # from merging the subquery back) hashes 20 bytes a run, and the tickets come from the
    # report index alone.
    inner, params = reviewed.values("latest_run_id", "category").query.sql_with_params()
    run = TriageRun._meta.db_table
    sql = f"""
        SELECT r.proposed, t.category, count(*)
        FROM ({inner}) t
        JOIN (SELECT id, result -> 'category' ->> 'value' AS proposed FROM {run} OFFSET 0) r
          ON r.id = t.latest_run_id
        GROUP BY 1, 2
    """  # noqa: S608 - the table name from model meta and the ORM's compiled SQL
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _local_day(value: datetime) -> date:
    return timezone.localtime(value).date()


def report_dashboard_get(*, filters: ReportFilters) -> Dashboard:
    """Every chart of the dashboard in six statements, each one pass grouped in the database:
    the tickets by (day, category, channel, priority, status) and their durations from the
    covering index ticket_report_created_idx, the category matrix (the latest runs of reviewed
    tickets), the runs by (day, status, failure kind) from triagerun_report_day_idx, the count of
    triaged tickets, and the review decisions. Filters reach the runs and decisions as a join."""
    tickets = report_ticket_list(filters=filters)
    d = Dashboard()
    days: set[date] = set()
    # volume, priority mix, manual triage and reviewed tickets: one grouped pass. Count("*"), not
    # Count("id"), so PostgreSQL can answer from the index without visiting the table.
    by_cat: dict[str, dict[date, int]] = defaultdict(dict)
    by_chan: dict[str, dict[date, int]] = defaultdict(dict)
    priorities: dict[str, int] = defaultdict(int)
    manual, reviewed = Ticket.Status.MANUAL_TRIAGE.value, {s.value for s in REVIEWED_STATES}
    groups = (
        tickets.annotate(day=TruncDate("created_at"))
        .values_list("day", "category", "channel", "priority", "status")
        .annotate(n=Count("*"))
        .order_by()
    )
    for day, cat, chan, pri, status, n in groups:
        cat = cat or "(none)"
        by_cat[cat][day] = by_cat[cat].get(day, 0) + n
        by_chan[chan][day] = by_chan[chan].get(day, 0) + n
        priorities[pri or "(none)"] += n
        d.by_status[status] = d.by_status.get(status, 0) + n
        if status == manual:
            d.manual_by_day[day] = d.manual_by_day.get(day, 0) + n
        elif status in reviewed:
            d.reviewed += n
        days.add(day)
        d.tickets += n
    d.volume_by_category = dict(sorted(by_cat.items()))
    d.volume_by_channel = dict(sorted(by_chan.items()))
    d.priority_ranks = priority_ranks()
    d.priority_mix = priority_ordered(priorities, rank=d.priority_ranks)
    d.manual_by_day = dict(sorted(d.manual_by_day.items()))
    d.manual_total = sum(d.manual_by_day.values())
    # durations
    if connection.vendor == "postgresql":
        d.durations = _pg_durations(tickets)
    else:
        d.durations["arrival_to_triaged"] = _duration_stats(
            tickets.filter(triaged_at__isnull=False), "created_at", "triaged_at"
        )
        d.durations["triaged_to_reviewed"] = _duration_stats(
            tickets.filter(triaged_at__isnull=False, reviewed_at__isnull=False), "triaged_at", "reviewed_at"
        )
    # review: each decision with a model proposal, field by field
    review_by_field = {name: {"accepted": 0, "corrected": 0} for name in CLASSIFIED_FIELDS}
    review_by_day: dict[date, dict[str, int]] = defaultdict(lambda: {"accepted": 0, "corrected": 0})
    decisions = ReviewDecision.objects.filter(run__isnull=False, **_ticket_lookups(filters, "ticket__"))
    for created, result, after in decisions.values_list("created_at", "run__result", "after").iterator(2000):
        if isinstance(result, str):
            result = json.loads(result)
        if not result:
            continue
        day = _local_day(created)
        for name in CLASSIFIED_FIELDS:
            proposed = (result.get(name) or {}).get("value", "")
            if not proposed:
                continue
            key = "accepted" if after.get(name) == proposed else "corrected"
            review_by_field[name][key] += 1
            review_by_day[day][key] += 1
            days.add(day)
    d.review_by_field = review_by_field
    d.review_by_day = dict(sorted(review_by_day.items()))
    # proposed vs final category, reviewed tickets with a proposal
    matrix: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for proposed, final, n in _category_pairs(tickets):
        if proposed:
            matrix[proposed][final or "(none)"] += n
    d.category_matrix = {k: dict(v) for k, v in sorted(matrix.items())}
    # tokens and cost per day (day of the run), and failures by kind: one grouped pass
    runs = TriageRun.objects.filter(**_ticket_lookups(filters, "ticket__"))
    failed = TriageRun.Status.FAILED.value
    failures: dict[str, int] = defaultdict(int)
    for row in (
        runs.annotate(day=TruncDate("started_at"))
        .values("day", "status", "error_kind")
        .annotate(
            n=Count("*"),
            prompt=Sum("prompt_tokens"),
            cached=Sum("cached_tokens"),
            completion=Sum("completion_tokens"),
            cost=Sum(run_cost_expression()),
        )
        .order_by()
    ):
        day = d.cost_by_day.setdefault(
            row["day"], {"runs": 0, "prompt": 0, "cached": 0, "completion": 0, "cost": 0.0}
        )
        day["runs"] += row["n"]
        day["prompt"] += row["prompt"] or 0
        day["cached"] += row["cached"] or 0
        day["completion"] += row["completion"] or 0
        day["cost"] += float(row["cost"] or 0.0)
        if row["status"] == failed:
            d.failures_by_day[row["day"]] = d.failures_by_day.get(row["day"], 0) + row["n"]
            failures[row["error_kind"] or "unknown"] += row["n"]
        d.cost_total += float(row["cost"] or 0.0)
        d.tokens_total += (row["prompt"] or 0) + (row["completion"] or 0)
        days.add(row["day"])
    d.cost_by_day = dict(sorted(d.cost_by_day.items()))
    d.failures_by_day = dict(sorted(d.failures_by_day.items()))
    d.failures_by_kind = sorted(failures.items(), key=lambda item: (-item[1], item[0]))
    d.failed_runs = sum(failures.values())
    d.triaged_tickets = runs.values("ticket_id").distinct().count()
    d.days = _day_axis(days, filters)
    return d


def priority_ordered(counts: Mapping[str, int], *, rank: Mapping[str, int]) -> list[tuple[str, int]]:
    """(priority, tickets), most urgent first (`rank`: priority_ranks). Values no longer in the
    taxonomy come after, then "(none)"."""
    return sorted(
        counts.items(),
        key=lambda item: (item[0] == "(none)", item[0] not in rank, -rank.get(item[0], 0), item[0]),
    )


def _day_axis(days: set[date], filters: ReportFilters) -> list[date]:
    """Every day from the first to the last (empty days show as gaps, not as missing bars)."""
    if not days and not (filters.date_from and filters.date_to):
        return []
    start = filters.date_from or min(days)
    end = filters.date_to or max(days)
    if days:
        start, end = min(start, min(days)), max(end, max(days))
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]
