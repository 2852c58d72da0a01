"""Bulk actions from the queue: one decision or change applied to many tickets.

Each ticket is its own transaction, locked and checked against the version the reviewer saw
(ticket_version): a ticket that changed meanwhile, is still being processed or cannot take the
action is skipped with the reason, never half-changed, and the others go ahead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.db import transaction

from triage.models import Ticket, TicketEvent
from triage.services.review import (
    InvalidDuplicate,
    ReviewConflict,
    review_record,
    ticket_mark_duplicate,
    ticket_proposal,
    ticket_version,
)

BULK_ACTIONS = {
    "accept": "Accept as proposed",
    "assign": "Assign to",
    "priority": "Set priority",
    "queue": "Set queue",
    "category": "Set category",
    "duplicate": "Mark duplicate of",
}
BULK_MAX_TICKETS = 500  # "all matching" beyond this: narrow the filters first
_FIELDS = ("priority", "queue", "category")
_IN_PROGRESS = (Ticket.Status.PROCESSING, Ticket.Status.TRIAGING)


@dataclass
class BulkResult:
    done: list[str] = field(default_factory=list)  # references
    unchanged: list[str] = field(default_factory=list)  # already so
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (reference, why)


class _Skip(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def ticket_versions(*, ticket_ids: list[int]) -> dict[int, str]:
    """What each ticket's version is now: the "seen" of a selection made on the server ("all
    matching")."""
    return {
        t.id: ticket_version(ticket=t) for t in Ticket.objects.filter(id__in=ticket_ids).only("updated_at")
    }


def bulk_apply(
    *,
    ticket_ids: list[int],
    user: User,
    action: str,
    value: str = "",
    assignee: User | None = None,
    seen: Mapping[int, str] | None = None,
) -> BulkResult:
    """Apply `action` (BULK_ACTIONS) to each ticket. `value`: the priority, queue or category (a
    taxonomy value, checked by the caller) or the original's reference for "duplicate"; `assignee`
    for "assign" (None: nobody). `seen`: the version of each ticket the reviewer saw; a ticket
    whose version differs now is skipped."""
    if action not in BULK_ACTIONS:
        raise ValueError(f"unknown bulk action {action!r}")
    seen = seen or {}
    result = BulkResult()
    for ticket_id in sorted(set(ticket_ids)):
        reference = f"TRI-{ticket_id}"
        try:
            with transaction.atomic():
                ticket = (
                    Ticket.objects.select_for_update(of=("self",))
                    .select_related("latest_run", "assignee")
                    .filter(id=ticket_id)
                    .first()
                )
                if ticket is None:
                    raise _Skip("deleted meanwhile")
                expected = seen.get(ticket_id)
                if expected is not None and expected != ticket_version(ticket=ticket):
                    raise _Skip("changed since you loaded the list, open it to check")
                if ticket.status in _IN_PROGRESS:
                    raise _Skip("still being processed")
                changed = _apply_one(ticket, user=user, action=action, value=value, assignee=assignee)
        except _Skip as skip:
            result.skipped.append((reference, skip.reason))
        else:
            (result.done if changed else result.unchanged).append(reference)
    return result


def _apply_one(ticket: Ticket, *, user: User, action: str, value: str, assignee: User | None) -> bool:
    """One ticket, locked, inside its transaction. False: nothing to change."""
    if action == "accept":
        if ticket.status != Ticket.Status.NEEDS_REVIEW:
            raise _Skip(f"{ticket.get_status_display().lower()}, not waiting for review")
        proposal = ticket_proposal(ticket=ticket)
        if not proposal.get("category"):
            raise _Skip("no proposal to accept")
        try:
            review_record(
                ticket_id=ticket.id, user=user, values=proposal, seen_version=ticket_version(ticket=ticket)
            )
        except ReviewConflict as conflict:
            raise _Skip("changed meanwhile") from conflict
        return True
    if action == "duplicate":
        try:
            ticket_mark_duplicate(ticket_id=ticket.id, user=user, original_reference=value)
        except InvalidDuplicate as exc:
            raise _Skip(str(exc)) from exc
        return True
    if action == "assign":
        before = {"assignee": ticket.assignee.get_username() if ticket.assignee else ""}
        after = {"assignee": assignee.get_username() if assignee else ""}
        if before == after:
            return False
        ticket.assignee = assignee
        ticket.save(update_fields=["assignee", "updated_at"])
    else:  # priority, queue, category
        before = {action: getattr(ticket, action)}
        after = {action: value}
        if before == after:
            return False
        setattr(ticket, action, value)
        ticket.save(update_fields=[action, "updated_at"])
    TicketEvent.objects.create(
        ticket=ticket, user=user, kind=TicketEvent.Kind.ASSIGN, before=before, after={**after, "bulk": True}
    )
    return True


def bulk_summary(*, result: BulkResult, action: str) -> tuple[str, str]:
    """(what was done, what was skipped and why), each '' when there is nothing to say."""
    verb = BULK_ACTIONS[action]
    done = ""
    if result.done and action == "accept":
        n = len(result.done)
        done = f"Accepted {n} ticket{'s' if n != 1 else ''} as proposed."
    elif result.done:
        n = len(result.done)
        done = f"{verb}: {n} ticket{'s' if n != 1 else ''} done"
        if result.unchanged:
            done += f", {len(result.unchanged)} already so"
        done += "."
    elif result.unchanged:
        done = f"{verb}: nothing to change, {len(result.unchanged)} already so."
    skipped = ""
    if result.skipped:
        n = len(result.skipped)
        skipped = (
            f"Skipped {n} ticket{'s' if n != 1 else ''}: "
            + "; ".join(f"{ref}: {why}" for ref, why in result.skipped)
            + "."
        )
    return done, skipped
