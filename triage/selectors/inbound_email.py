"""Inbound mail that needs a person."""

from __future__ import annotations

from django.db.models import (
    QuerySet,
)

from triage.models import (
    InboundEmail,
)


def email_quarantine_list(*, limit: int = 200) -> QuerySet[InboundEmail]:
    """Inbound mail that could not be read, newest first."""
    return (
        InboundEmail.objects.filter(status=InboundEmail.Status.QUARANTINED)
        .select_related("ticket")
        .order_by("-received_at", "-id")[:limit]
    )
