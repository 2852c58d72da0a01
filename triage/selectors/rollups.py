"""The dashboard read from the per-day rollups (services/report_rollups.py): the same Dashboard
as the raw selector, from a few thousand rows whatever the number of tickets."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from django.db.models import QuerySet, Sum

from triage.fields import CLASSIFIED_FIELDS
from triage.models import (
    REVIEWED_STATES,
    ReportDurationDay,
    ReportReviewDay,
    ReportRunDay,
    ReportTicketDay,
    Ticket,
    TriageRun,
)
from triage.selectors.reports import Dashboard, ReportFilters, _day_axis, priority_ordered
from triage.selectors.taxonomy import priority_ranks


def _filtered(qs: QuerySet, filters: ReportFilters) -> QuerySet:
    lookups: dict[str, Any] = {}
    if filters.date_from:
        lookups["day__gte"] = filters.date_from
    if filters.date_to:
        lookups["day__lte"] = filters.date_to
    for name in ("queue", "channel", "category"):
        if getattr(filters, name):
            lookups[name] = getattr(filters, name)
    return qs.filter(**lookups).order_by()


def _weighted_percentile(counts: dict[float, int], q: float) -> float | None:
    """`percentile` over the values each repeated by its count, without expanding them."""
    total = sum(counts.values())
    if not total:
        return None
    pos = (total - 1) * q
    lo, hi = int(pos), min(int(pos) + 1, total - 1)

    def nth(k: int) -> float:
        seen = 0
        for value in sorted(counts):
            seen += counts[value]
            if k < seen:
                return value
        raise AssertionError("unreachable: k < total")

    a, b = nth(lo), nth(hi)
    return a + (b - a) * (pos - lo)


def report_dashboard_from_rollups(*, filters: ReportFilters) -> Dashboard:
    d = Dashboard()
    days: set[date] = set()
    by_cat: dict[str, dict[date, int]] = defaultdict(dict)
    by_chan: dict[str, dict[date, int]] = defaultdict(dict)
    priorities: dict[str, int] = defaultdict(int)
    matrix: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    manual, reviewed = Ticket.Status.MANUAL_TRIAGE.value, {s.value for s in REVIEWED_STATES}
    rows = (
        _filtered(ReportTicketDay.objects.all(), filters)
        .values_list("day", "category", "channel", "priority", "status", "proposed_category", "has_run")
        .annotate(n=Sum("tickets"))
    )
    for day, cat, chan, pri, status, proposed, has_run, n in rows:
        cat_key = cat or "(none)"
        by_cat[cat_key][day] = by_cat[cat_key].get(day, 0) + n
        by_chan[chan][day] = by_chan[chan].get(day, 0) + n
        priorities[pri or "(none)"] += n
        d.by_status[status] = d.by_status.get(status, 0) + n
        if status == manual:
            d.manual_by_day[day] = d.manual_by_day.get(day, 0) + n
        elif status in reviewed:
            d.reviewed += n
            if proposed:
                matrix[proposed][cat or "(none)"] += n
        if has_run:
            d.triaged_tickets += n
        days.add(day)
        d.tickets += n
    d.volume_by_category = dict(sorted(by_cat.items()))
    d.volume_by_channel = dict(sorted(by_chan.items()))
    d.priority_ranks = priority_ranks()
    d.priority_mix = priority_ordered(priorities, rank=d.priority_ranks)
    d.manual_by_day = dict(sorted(d.manual_by_day.items()))
    d.manual_total = sum(d.manual_by_day.values())
    d.category_matrix = {k: dict(v) for k, v in sorted(matrix.items())}
    # durations
    buckets: dict[str, dict[float, int]] = {"arrival_to_triaged": {}, "triaged_to_reviewed": {}}
    for kind, _, n, total in (
        _filtered(ReportDurationDay.objects.all(), filters)
        .values_list("kind", "seconds")
        .annotate(n=Sum("tickets"), total=Sum("seconds_sum"))
    ):
        # each bucket at the mean of its durations: exact when it holds one distinct value
        value = total / n
        buckets[kind][value] = buckets[kind].get(value, 0) + n
    d.durations = {
        kind: {
            "n": sum(counts.values()),
            "median": _weighted_percentile(counts, 0.5),
            "p90": _weighted_percentile(counts, 0.9),
        }
        for kind, counts in buckets.items()
    }
    # reviews
    review_by_field = {name: {"accepted": 0, "corrected": 0} for name in CLASSIFIED_FIELDS}
    review_by_day: dict[date, dict[str, int]] = defaultdict(lambda: {"accepted": 0, "corrected": 0})
    for decision_day, name, accepted, corrected in (
        _filtered(ReportReviewDay.objects.all(), filters)
        .values_list("decision_day", "field")
        .annotate(a=Sum("accepted"), c=Sum("corrected"))
    ):
        review_by_field[name]["accepted"] += accepted
        review_by_field[name]["corrected"] += corrected
        review_by_day[decision_day]["accepted"] += accepted
        review_by_day[decision_day]["corrected"] += corrected
        days.add(decision_day)
    d.review_by_field = review_by_field
    d.review_by_day = dict(sorted(review_by_day.items()))
    # runs: tokens, cost, failures per run day
    failed = TriageRun.Status.FAILED.value
    failures: dict[str, int] = defaultdict(int)
    for run_day, status, error_kind, n, prompt, cached, completion, cost in (
        _filtered(ReportRunDay.objects.all(), filters)
        .values_list("run_day", "status", "error_kind")
        .annotate(
            n=Sum("runs"),
            p=Sum("prompt_tokens"),
            ca=Sum("cached_tokens"),
            co=Sum("completion_tokens"),
            usd=Sum("cost_usd"),
        )
    ):
        day = d.cost_by_day.setdefault(
            run_day, {"runs": 0, "prompt": 0, "cached": 0, "completion": 0, "cost": 0.0}
        )
        day["runs"] += n
        day["prompt"] += prompt
        day["cached"] += cached
        day["completion"] += completion
        day["cost"] += cost
        if status == failed:
            d.failures_by_day[run_day] = d.failures_by_day.get(run_day, 0) + n
            failures[error_kind or "unknown"] += n
        d.cost_total += cost
        d.tokens_total += prompt + completion
        days.add(run_day)
    d.cost_by_day = dict(sorted(d.cost_by_day.items()))
    d.failures_by_day = dict(sorted(d.failures_by_day.items()))
    d.failures_by_kind = sorted(failures.items(), key=lambda item: (-item[1], item[0]))
    d.failed_runs = sum(failures.values())
    d.days = _day_axis(days, filters)
    return d
