from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import AttachmentFactory, RenditionFactory, TicketFactory
from triage.models import RenditionText, Ticket
from triage.selectors.duplicates import SIMILAR_WINDOW, ticket_similar_list

pytestmark = pytest.mark.django_db


def _ocr(ticket: Ticket, text: str) -> None:
    rendition = RenditionFactory(attachment=AttachmentFactory(ticket=ticket))
    RenditionText.objects.create(rendition=rendition, text=text, engine="test")


def _ticket(subject: str, description: str, ocr: str = "", *, ago: timedelta = timedelta(hours=1)) -> Ticket:
    ticket = TicketFactory(subject=subject, description=description)
    Ticket.objects.filter(id=ticket.id).update(created_at=timezone.now() - ago)
    ticket.refresh_from_db()
    if ocr:
        _ocr(ticket, ocr)
    return ticket


def test_an_earlier_ticket_showing_the_same_error_on_screen_is_proposed_with_the_reason():
    original = _ticket(
        "Sync stopped",
        "The sync stopped this morning.",
        "Sync error E_TIMEOUT at 00:00:02.500",
        ago=timedelta(days=2),
    )
    _ticket(
        "Sync stopped",
        "The sync stopped this morning.",
        "Sync failed: SYNC_CONFLICT (E2231)",
        ago=timedelta(days=1),
    )
    new = _ticket(
        "Data not syncing", "Nothing reaches my phone.", "12:04\nSync error E_TIMEOUT", ago=timedelta(0)
    )
    similar = ticket_similar_list(ticket=new)
    assert similar[0]["id"] == original.id and similar[0]["reference"] == original.reference
    assert similar[0]["reason"] == "same error 'E_TIMEOUT' in screenshot"


def test_a_ticket_is_not_proposed_for_what_a_newer_one_mentions_in_a_side_remark():
    _ticket("Export broken", "The CSV export does nothing.", "Error: disk quota exceeded (Q-17)")
    address = _ticket("Invoice address", "Please change the address on my invoices.", ago=timedelta(hours=2))
    new = _ticket(
        "Invoice address",
        "Please change the address on my invoices.\nBy the way, the export shows disk quota exceeded (Q-17).",
        ago=timedelta(0),
    )
    # the export ticket shows the remark's error, and only the invoice ticket is proposed
    assert [s["id"] for s in ticket_similar_list(ticket=new)] == [address.id]


def test_later_tickets_old_tickets_and_tickets_already_marked_duplicate_are_not_candidates():
    new = _ticket("Sync stopped", "Sync error E_TIMEOUT.", ago=timedelta(days=1))
    _ticket("Sync stopped", "Sync error E_TIMEOUT.", ago=timedelta(0))  # came in after it
    _ticket("Sync stopped", "Sync error E_TIMEOUT.", ago=SIMILAR_WINDOW + timedelta(days=2))
    original = _ticket("Sync stopped", "Sync error E_TIMEOUT.", ago=timedelta(days=3))
    marked = _ticket("Sync stopped", "Sync error E_TIMEOUT.", ago=timedelta(days=2))
    Ticket.objects.filter(id=marked.id).update(duplicate_of=original)
    assert [s["id"] for s in ticket_similar_list(ticket=new)] == [original.id]
