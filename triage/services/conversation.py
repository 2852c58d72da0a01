"""The conversation around a ticket: who takes part in it, internal notes and @mentions, links
between tickets that a mail created.

Participants decide whether a weak thread match (the ticket's reference in a subject) may join a
ticket: anyone can write "TRI-7" in a subject, so only the requester and people already in the
thread are trusted with it. Message-IDs we generated and the signed reply token are not guessable
and join whoever sends them.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from triage.adapters.notes import mentions_find
from triage.models import InboundEmail, NoteMention, Ticket, TicketNote


def ticket_participants(*, ticket: Ticket) -> set[str]:
    """Lower-cased addresses of the requester, everyone who wrote to the ticket, and everyone our
    replies were sent to (To and Cc)."""
    found = {ticket.requester_email.lower()} if ticket.requester_email else set()
    senders = (
        InboundEmail.objects.filter(ticket=ticket)
        .exclude(from_email="")
        .exclude(status=InboundEmail.Status.AUTOMATIC)
        .values_list("from_email", flat=True)
    )
    found.update(s.lower() for s in senders)
    found.update(_outbound_recipients(ticket=ticket))
    return found


def _outbound_recipients(*, ticket: Ticket) -> set[str]:
    from triage.models import OutboundEmail

    addresses: set[str] = set()
    for to, cc in OutboundEmail.objects.filter(ticket=ticket, kind=OutboundEmail.Kind.REPLY).values_list(
        "to", "cc"
    ):
        addresses.update(a.lower() for a in (*to, *cc))
    return addresses


def sender_is_participant(*, ticket: Ticket, address: str) -> bool:
    return bool(address) and address.lower() in ticket_participants(ticket=ticket)


def ticket_link(*, ticket: Ticket, linked: Ticket, kind: str, sender: str) -> None:
    """Point a new ticket at the one its mail named, and leave a note on that one.

    Runs inside the caller's transaction (the intake's deciding one): the link and the note commit
    with the new ticket or not at all.
    """
    Ticket.objects.filter(id=ticket.id).update(linked_ticket=linked, link_kind=kind)
    ticket.linked_ticket, ticket.link_kind = linked, kind
    if kind == Ticket.LinkKind.MENTIONS:
        body = (
            f"{ticket.reference} from {sender or 'an unknown sender'} mentions this ticket. It was "
            "opened as a new ticket because the sender is not part of this conversation."
        )
    else:
        body = f"{sender or 'The customer'} wrote again after this ticket was closed: see {ticket.reference}."
    TicketNote.objects.create(ticket=linked, author=None, body=body)


@transaction.atomic
def ticket_note_add_system(*, ticket_id: int, body: str) -> TicketNote:
    return TicketNote.objects.create(ticket_id=ticket_id, author=None, body=body)


def note_add(*, ticket_id: int, author: User, body: str) -> TicketNote:
    """An internal note (never emailed to the customer). Each active colleague named as @username
    gets an unread mention (the header's badge) and an email; naming yourself notifies no one."""
    from triage.services.outbound import mention_notify

    body = body.strip()
    if not body:
        raise ValueError("a note needs some text")
    User = get_user_model()
    with transaction.atomic():
        ticket = Ticket.objects.get(id=ticket_id)
        note = TicketNote.objects.create(ticket=ticket, author=author, body=body)
        names = mentions_find(body)
        people = (
            User.objects.filter(is_active=True, **{f"{User.USERNAME_FIELD}__in": names}).exclude(pk=author.pk)
            if names
            else User.objects.none()
        )
        for person in people:
            NoteMention.objects.create(note=note, user=person)
            mention_notify(ticket=ticket, user=person, author=author, note_body=body)
    return note


def mentions_unread_count(*, user: User) -> int:
    return NoteMention.objects.filter(user=user, read_at__isnull=True).count()


def mentions_mark_read(*, user: User, ticket_id: int) -> int:
    """Opening the ticket reads its mentions of this user."""
    return NoteMention.objects.filter(user=user, note__ticket_id=ticket_id, read_at__isnull=True).update(
        read_at=timezone.now()
    )
