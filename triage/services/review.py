"""Review decisions: staff accept the proposal or correct it; every decision is stored."""

from __future__ import annotations

from collections.abc import Mapping

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from triage.models import ReviewDecision, Ticket

REVIEWED_FIELDS = ("category", "priority", "queue", "sentiment", "language", "summary")


def ticket_proposal(*, ticket: Ticket) -> dict[str, str]:
    """What the latest successful model run proposed, field by field ('' when nothing was)."""
    result = (ticket.latest_run.result if ticket.latest_run else None) or {}
    proposal = {
        name: (result.get(name) or {}).get("value", "") for name in REVIEWED_FIELDS if name != "summary"
    }
    proposal["summary"] = result.get("summary", "")
    return proposal


@transaction.atomic
def review_record(*, ticket_id: int, user: AbstractBaseUser, values: Mapping[str, str]) -> ReviewDecision:
    """Set the ticket's final values and record who decided what, and what it was before."""
    ticket = Ticket.objects.select_for_update(of=("self",)).select_related("latest_run").get(id=ticket_id)
    before = {name: getattr(ticket, name) for name in REVIEWED_FIELDS}
    after = {name: str(values.get(name, before[name])) for name in REVIEWED_FIELDS}
    proposal = ticket_proposal(ticket=ticket)
    action = (
        ReviewDecision.Action.ACCEPT
        if ticket.latest_run_id and all(after[k] == proposal[k] for k in REVIEWED_FIELDS)
        else ReviewDecision.Action.CORRECT
    )
    for name, value in after.items():
        setattr(ticket, name, value)
    ticket.status = Ticket.Status.REVIEWED
    ticket.reviewed_at = timezone.now()
    ticket.reviewed_by = user
    ticket.save()
    return ReviewDecision.objects.create(
        ticket=ticket, user=user, action=action, before=before, after=after, run=ticket.latest_run
    )
