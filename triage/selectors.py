"""Reads. Querysets decide their joins here so views never trigger N+1 queries."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Count, Prefetch, Q, QuerySet

from triage.adapters.llm.base import Taxonomy, TaxonomyEntry
from triage.models import (
    Attachment,
    InboundEmail,
    Rendition,
    ReviewDecision,
    TaxonomyField,
    TaxonomyValue,
    Ticket,
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
            "emails",
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


def email_quarantine_list(*, limit: int = 200) -> QuerySet[InboundEmail]:
    """Inbound mail that could not be read, newest first."""
    return (
        InboundEmail.objects.filter(status=InboundEmail.Status.QUARANTINED)
        .select_related("ticket")
        .order_by("-received_at", "-id")[:limit]
    )
