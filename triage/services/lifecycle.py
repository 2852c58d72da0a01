"""A ticket's life after review: Open -> Pending (waiting on the customer) -> Solved -> Closed.

Agents move a reviewed ticket between Open, Pending and Solved; Closed comes only from time
(TRIAGE_AUTO_CLOSE_DAYS after Solved, `tickets_auto_close` on beat). A customer's reply reopens a
Pending or Solved ticket; a reply to a Closed one opens a new ticket linked to it (services/inbound_email).
Every change is a STATUS event in the ticket's history, with who made it (none: Triage itself).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from triage.models import REVIEWED_STATES, Ticket, TicketEvent

# What an agent may choose on the ticket page; Closed is reached by time only.
AGENT_STATUSES = (Ticket.Status.REVIEWED, Ticket.Status.PENDING, Ticket.Status.SOLVED)


class StatusChangeRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _status_write(*, ticket: Ticket, status: str, user: User | None, why: str = "") -> TicketEvent:
    """Change a locked ticket's status and record it. The caller holds the row lock."""
    before = ticket.status
    ticket.status = status
    if status == Ticket.Status.SOLVED:
        ticket.solved_at = timezone.now()
    elif status != Ticket.Status.CLOSED:  # a closed ticket keeps when it was solved
        ticket.solved_at = None
    ticket.save(update_fields=["status", "solved_at", "updated_at"])
    after: dict[str, str] = {"status": status}
    if why:
        after["why"] = why
    return TicketEvent.objects.create(
        ticket=ticket, user=user, kind=TicketEvent.Kind.STATUS, before={"status": before}, after=after
    )


@transaction.atomic
def ticket_status_set(*, ticket_id: int, user: User | None, status: str) -> TicketEvent | None:
    """An agent moves a reviewed ticket to Open, Pending or Solved. None when it already is."""
    if status not in AGENT_STATUSES:
        raise StatusChangeRefused(f"a ticket cannot be set to {status} by hand")
    ticket = Ticket.objects.select_for_update(of=("self",)).get(id=ticket_id)
    if ticket.status not in REVIEWED_STATES:
        raise StatusChangeRefused("the ticket has not been reviewed yet")
    if ticket.status == Ticket.Status.CLOSED:
        raise StatusChangeRefused("the ticket is closed; a new message opens a new ticket")
    if ticket.status == status:
        return None
    return _status_write(ticket=ticket, status=status, user=user)


def ticket_customer_replied(*, ticket_id: int) -> bool:
    """A customer wrote again: a Pending or Solved ticket is Open again. Runs in the intake's
    deciding transaction. True when the status changed."""
    ticket = Ticket.objects.select_for_update(of=("self",)).get(id=ticket_id)
    if ticket.status not in (Ticket.Status.PENDING, Ticket.Status.SOLVED):
        return False
    _status_write(ticket=ticket, status=Ticket.Status.REVIEWED, user=None, why="the customer replied")
    return True


@transaction.atomic
def ticket_status_from_outside(*, ticket_id: int, status: str, why: str) -> bool:
    """A tool the ticket was handed to closed (Solved) or reopened (Open) its issue. A ticket not
    reviewed yet, or Closed, is left as it is. True when the status changed."""
    from triage.services.webhooks import webhook_event_record

    if status not in (Ticket.Status.SOLVED, Ticket.Status.REVIEWED):
        raise StatusChangeRefused(f"a ticket cannot be set to {status} from outside")
    ticket = Ticket.objects.select_for_update(of=("self",)).get(id=ticket_id)
    if ticket.status not in REVIEWED_STATES or ticket.status in (Ticket.Status.CLOSED, status):
        return False
    if status == Ticket.Status.REVIEWED and ticket.status != Ticket.Status.SOLVED:
        return False  # only a solved ticket is reopened; Open and Pending stay as they are
    _status_write(ticket=ticket, status=status, user=None, why=why)
    if status == Ticket.Status.REVIEWED:
        webhook_event_record(event_type="ticket.reopened", ticket_id=ticket.id)
    return True


def tickets_auto_close(*, days: int, now: datetime | None = None, batch: int = 500) -> int:
    """Close tickets Solved more than `days` ago. Idempotent: a closed ticket is no longer Solved,
    and each row is re-checked under its lock, so two runs at once close each ticket once."""
    cutoff = (now or timezone.now()) - timedelta(days=days)
    closed = 0
    while True:
        with transaction.atomic():
            due = list(
                Ticket.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(status=Ticket.Status.SOLVED, solved_at__lt=cutoff)
                .order_by("id")[:batch]
            )
            for ticket in due:
                _status_write(
                    ticket=ticket, status=Ticket.Status.CLOSED, user=None, why=f"solved {days} days ago"
                )
            closed += len(due)
        if len(due) < batch:
            return closed
