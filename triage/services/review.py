"""Review decisions: staff accept the proposal or correct it; every decision is stored."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from triage.fields import CLASSIFIED_FIELDS, REVIEWED_FIELDS
from triage.models import REVIEWED_STATES, ReviewDecision, Ticket, TicketEvent
from triage.services.handoff import handoff_plan
from triage.services.webhooks import webhook_event_record


def ticket_proposal(*, ticket: Ticket) -> dict[str, str]:
    """What the latest successful model run proposed, field by field ('' when nothing was)."""
    result = (ticket.latest_run.result if ticket.latest_run else None) or {}
    proposal = {name: (result.get(name) or {}).get("value", "") for name in CLASSIFIED_FIELDS}
    proposal["summary"] = result.get("summary", "")
    return proposal


class ReviewConflict(Exception):
    """The ticket changed after the reviewer opened it: someone else saved it, or a model run
    finished. Nothing was saved; `changes` says what happened, for the reviewer to decide."""

    def __init__(self, *, changes: list[str]) -> None:
        super().__init__("; ".join(changes))
        self.changes = changes


def ticket_version(*, ticket: Ticket) -> str:
    """What the review form carries back, to tell whether the ticket changed meanwhile."""
    return ticket.updated_at.isoformat()


@transaction.atomic
def review_record(
    *, ticket_id: int, user: User, values: Mapping[str, str], seen_version: str | None = None
) -> ReviewDecision:
    """Set the ticket's final values and record who decided what, and what it was before.

    With `seen_version` (ticket_version when the reviewer opened the page), a ticket changed since
    raises ReviewConflict instead of being overwritten: of two people saving at once, the second
    sees what the first did and decides.
    """
    ticket = Ticket.objects.select_for_update(of=("self",)).select_related("latest_run").get(id=ticket_id)
    if seen_version is not None and seen_version != ticket_version(ticket=ticket):
        raise ReviewConflict(changes=_changes_since(ticket=ticket, seen_version=seen_version))
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
    decision = ReviewDecision.objects.create(
        ticket=ticket, user=user, action=action, before=before, after=after, run=ticket.latest_run
    )
    webhook_event_record(event_type="ticket.reviewed", ticket_id=ticket.id)
    handoff_plan(ticket=ticket, auto=False)  # the routing rules' intents, in this transaction
    return decision


def _changes_since(*, ticket: Ticket, seen_version: str) -> list[str]:
    try:
        seen = datetime.fromisoformat(seen_version)
    except ValueError:
        seen = None
    changes = []
    decisions = ticket.decisions.select_related("user").order_by("created_at")
    for decision in decisions.filter(created_at__gt=seen) if seen else decisions.none():
        who = (
            (decision.user.get_full_name() or decision.user.get_username())
            if decision.user
            else "auto-accept"
        )
        fields = [
            f"{name} {decision.before.get(name) or '—'} → {decision.after.get(name) or '—'}"
            for name in REVIEWED_FIELDS
            if name != "summary" and decision.before.get(name) != decision.after.get(name)
        ]
        changes.append(
            f"{who} {decision.get_action_display().lower()}"
            + (f" ({', '.join(fields)})" if fields else "")
            + f" at {timezone.localtime(decision.created_at):%H:%M:%S}"
        )
    runs = ticket.runs.filter(finished_at__gt=seen) if seen else ticket.runs.none()
    for run in runs.order_by("finished_at"):
        changes.append(
            f"a {run.provider} model run finished at {timezone.localtime(run.finished_at):%H:%M:%S}"
        )
    return changes or ["the ticket was updated by someone else"]


@transaction.atomic
def ticket_assign(*, ticket_id: int, user: User, assignee: User | None, queue: str) -> TicketEvent | None:
    """Give the ticket to a person and/or a queue; recorded with what it was. None: nothing changed."""
    ticket = Ticket.objects.select_for_update(of=("self",)).get(id=ticket_id)
    before = {"assignee": ticket.assignee.get_username() if ticket.assignee else "", "queue": ticket.queue}
    ticket.assignee = assignee
    ticket.queue = queue or ticket.queue
    after = {"assignee": assignee.get_username() if assignee else "", "queue": ticket.queue}
    if before == after:
        return None
    ticket.save(update_fields=["assignee", "queue", "updated_at"])
    return TicketEvent.objects.create(
        ticket=ticket, user=user, kind=TicketEvent.Kind.ASSIGN, before=before, after=after
    )


class InvalidDuplicate(Exception):
    pass


@transaction.atomic
def ticket_mark_duplicate(*, ticket_id: int, user: User, original_reference: str) -> TicketEvent:
    """Say this ticket repeats another (TRI-<id>); a ticket is never its own, or a loop's, original."""
    ticket = Ticket.objects.select_for_update(of=("self",)).get(id=ticket_id)
    reference = original_reference.strip().upper()
    original = (
        Ticket.objects.filter(id=int(reference[4:])).first()
        if re.fullmatch(r"TRI-\d{1,12}", reference)
        else None
    )
    if original is None:
        raise InvalidDuplicate(f"there is no ticket {original_reference.strip() or '(empty)'}")
    seen = {ticket.id}
    cursor: Ticket | None = original
    while cursor is not None:
        if cursor.id in seen:
            raise InvalidDuplicate(f"{original.reference} is this ticket or already a duplicate of it")
        seen.add(cursor.id)
        cursor = cursor.duplicate_of
    before = {"duplicate_of": ticket.duplicate_of.reference if ticket.duplicate_of else ""}
    ticket.duplicate_of = original
    ticket.save(update_fields=["duplicate_of", "updated_at"])
    return TicketEvent.objects.create(
        ticket=ticket,
        user=user,
        kind=TicketEvent.Kind.DUPLICATE,
        before=before,
        after={"duplicate_of": original.reference},
    )


class ProviderUnavailable(Exception):
    """A re-run asked for a provider this installation cannot call."""


def ticket_retriage(*, ticket_id: int, user: User, provider: str, thinking: str) -> bool:
    """Run triage again with the provider and thinking mode chosen; reviewed values stay as they are
    (a run never overwrites them). False when the ticket is still being processed.

    Raises ProviderUnavailable for Kimi without an API key: the run would quietly be the offline
    model's while the history said Kimi."""
    from triage.tasks import ticket_triage_task

    if provider == "kimi" and not settings.KIMI_API_KEY:
        raise ProviderUnavailable("Kimi has no API key here (KIMI_API_KEY); choose the offline model")
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update(of=("self",)).get(id=ticket_id)
        if ticket.status in (Ticket.Status.PROCESSING, Ticket.Status.TRIAGING):
            return False
        before = {"status": ticket.status}
        if ticket.status not in REVIEWED_STATES:
            ticket.status = Ticket.Status.TRIAGING
            ticket.save(update_fields=["status", "updated_at"])
        TicketEvent.objects.create(
            ticket=ticket,
            user=user,
            kind=TicketEvent.Kind.RETRIAGE,
            before=before,
            after={"provider": provider, "thinking": thinking},
        )
        reviewed = ticket.status in REVIEWED_STATES
        transaction.on_commit(
            lambda: ticket_triage_task.delay(
                ticket_id=ticket_id, provider=provider, thinking=thinking, rerun=reviewed
            )
        )
    return True
