"""The conversation timeline of a ticket: one list, oldest first, of everything that happened."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from triage.models import (
    InboundEmail,
    OutboundEmail,
    ReviewDecision,
    Ticket,
    TicketEvent,
    TicketNote,
    TriageRun,
)


@dataclass(frozen=True)
class TimelineEntry:
    kind: str  # opened | customer | automatic | reply | ack | note | event | decision | run
    at: datetime
    item: Any

    @property
    def dom_id(self) -> str:
        return f"{self.kind}-{getattr(self.item, 'id', 0)}"


def _prefetched(ticket: Ticket, name: str) -> list | None:
    """The ticket's `name` relation when the page's selector already read it (no second query)."""
    cache = getattr(ticket, "_prefetched_objects_cache", {})
    return list(cache[name]) if name in cache else None


def ticket_timeline(*, ticket: Ticket) -> list[TimelineEntry]:
    """Customer messages, our mail, internal notes, status and other changes, model runs. Reuses the
    mail, events, decisions and runs ticket_get_for_review prefetched."""
    entries: list[TimelineEntry] = []
    emails = _prefetched(ticket, "emails")
    if emails is None:
        emails = list(InboundEmail.objects.filter(ticket=ticket))
    emails.sort(key=lambda e: (e.received_at, e.id))
    opening = next((e for e in emails if e.thread_reason == InboundEmail.ThreadReason.NEW), None)
    entries.append(TimelineEntry("opened", ticket.created_at, opening))
    for email in emails:
        if email is opening:
            continue
        kind = "automatic" if email.status == InboundEmail.Status.AUTOMATIC else "customer"
        entries.append(TimelineEntry(kind, email.received_at, email))
    for mail in (
        OutboundEmail.objects.filter(ticket=ticket)
        .exclude(kind=OutboundEmail.Kind.MENTION)
        .select_related("author")
    ):
        entries.append(
            TimelineEntry("reply" if mail.kind == OutboundEmail.Kind.REPLY else "ack", mail.created_at, mail)
        )
    for note in TicketNote.objects.filter(ticket=ticket).select_related("author"):
        entries.append(TimelineEntry("note", note.created_at, note))
    events = _prefetched(ticket, "events")
    for event in (
        TicketEvent.objects.filter(ticket=ticket).select_related("user") if events is None else events
    ):
        entries.append(TimelineEntry("event", event.created_at, event))
    decisions = _prefetched(ticket, "decisions")
    for decision in (
        ReviewDecision.objects.filter(ticket=ticket).select_related("user")
        if decisions is None
        else decisions
    ):
        entries.append(TimelineEntry("decision", decision.created_at, decision))
    runs = _prefetched(ticket, "runs")
    for run in TriageRun.objects.filter(ticket=ticket) if runs is None else runs:
        entries.append(TimelineEntry("run", run.started_at, run))
    entries.sort(key=lambda e: (e.at, 0 if e.kind == "opened" else 1))
    return entries
