"""Reads. Querysets decide their joins here so views never trigger N+1 queries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.utils import timezone as dj_timezone

from triage.adapters.llm.base import Taxonomy, TaxonomyEntry
from triage.models import (
    Attachment,
    Rendition,
    ReviewDecision,
    TaxonomyField,
    TaxonomyValue,
    Ticket,
    TriageRun,
)


def review_queue_list(*, statuses: Sequence[str] = ()) -> QuerySet[Ticket]:
    qs = Ticket.objects.select_related("latest_run").annotate(
        attachment_count=Count("attachments", distinct=True),
        rejected_count=Count(
            "attachments",
            filter=Q(attachments__status__in=[Attachment.Status.REJECTED, Attachment.Status.FAILED]),
            distinct=True,
        ),
    )
    # the first few attachments' thumbnails, for the list (two queries per page, not per row)
    qs = qs.prefetch_related(
        Prefetch(
            "attachments",
            queryset=Attachment.objects.filter(status=Attachment.Status.DONE)
            .order_by("id")
            .prefetch_related(
                Prefetch(
                    "renditions",
                    queryset=Rendition.objects.filter(kind=Rendition.Kind.THUMB),
                    to_attr="thumbs",
                )
            ),
            to_attr="thumb_attachments",
        )
    )
    if statuses:
        qs = qs.filter(status__in=list(statuses))
    return qs.order_by("-created_at", "-id")


def ticket_get_for_review(*, ticket_id: int) -> Ticket:
    return (
        Ticket.objects.select_related("latest_run", "created_by", "reviewed_by")
        .prefetch_related(
            Prefetch(
                "attachments",
                queryset=Attachment.objects.prefetch_related(
                    Prefetch("renditions", queryset=Rendition.objects.order_by("kind", "index"))
                ),
            ),
            "runs",
            Prefetch("decisions", queryset=ReviewDecision.objects.select_related("user")),
        )
        .get(id=ticket_id)
    )


def ticket_status_counts() -> dict[str, int]:
    rows = Ticket.objects.values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def taxonomy_get() -> Taxonomy:
    rows = TaxonomyValue.objects.filter(is_active=True).order_by("field", "position", "value")
    grouped: dict[str, list[TaxonomyEntry]] = {f.value: [] for f in TaxonomyField}
    for row in rows:
        grouped[row.field].append(
            TaxonomyEntry(
                value=row.value,
                label=row.label,
                description=row.description,
                examples=tuple(line.strip() for line in row.examples.splitlines() if line.strip()),
            )
        )
    return Taxonomy(
        categories=tuple(grouped[TaxonomyField.CATEGORY]),
        priorities=tuple(grouped[TaxonomyField.PRIORITY]),
        queues=tuple(grouped[TaxonomyField.QUEUE]),
        sentiments=tuple(grouped[TaxonomyField.SENTIMENT]),
    )


def taxonomy_choices(*, field: str) -> list[tuple[str, str]]:
    return list(
        TaxonomyValue.objects.filter(field=field, is_active=True)
        .order_by("position", "value")
        .values_list("value", "label")
    )


def taxonomy_labels() -> dict[str, dict[str, str]]:
    labels: dict[str, dict[str, str]] = {f.value: {} for f in TaxonomyField}
    for field, value, label in TaxonomyValue.objects.values_list("field", "value", "label"):
        labels[field][value] = label
    return labels


# --- cost (services/costs.py computes; these sum) ------------------------------------------------


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
