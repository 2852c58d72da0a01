from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from triage.models import ReviewDecision, Ticket, TriageRun
from triage.services.review import review_record

pytestmark = pytest.mark.django_db

PROPOSAL = {
    "summary": "Card payments fail.",
    "category": {"value": "bug", "confidence": 0.9},
    "priority": {"value": "urgent", "confidence": 0.8},
    "queue": {"value": "engineering", "confidence": 0.7},
    "sentiment": {"value": "negative", "confidence": 0.6},
    "language": {"value": "en", "confidence": 0.99},
}


@pytest.fixture
def proposed_ticket() -> Ticket:
    ticket = Ticket.objects.create(subject="Checkout 500", status=Ticket.Status.NEEDS_REVIEW)
    run = TriageRun.objects.create(ticket=ticket, provider="local", model="m", status="DONE", result=PROPOSAL)
    Ticket.objects.filter(id=ticket.id).update(
        latest_run=run,
        summary="Card payments fail.",
        category="bug",
        priority="urgent",
        queue="engineering",
        sentiment="negative",
        language="en",
    )
    return Ticket.objects.get(id=ticket.id)


def test_accepting_as_proposed_records_an_accept(proposed_ticket):
    user = get_user_model().objects.create_user("ana")
    decision = review_record(ticket_id=proposed_ticket.id, user=user, values={})
    proposed_ticket.refresh_from_db()
    assert decision.action == ReviewDecision.Action.ACCEPT
    assert proposed_ticket.status == Ticket.Status.REVIEWED
    assert proposed_ticket.reviewed_by == user and proposed_ticket.reviewed_at is not None


def test_a_correction_records_what_it_was_before(proposed_ticket):
    user = get_user_model().objects.create_user("ana")
    decision = review_record(ticket_id=proposed_ticket.id, user=user, values={"category": "billing"})
    assert decision.action == ReviewDecision.Action.CORRECT
    assert decision.before["category"] == "bug" and decision.after["category"] == "billing"
    assert decision.after["priority"] == "urgent"
    proposed_ticket.refresh_from_db()
    assert proposed_ticket.category == "billing"


def test_reviewing_a_manual_ticket_is_always_a_correction():
    ticket = Ticket.objects.create(subject="?", status=Ticket.Status.MANUAL_TRIAGE)
    user = get_user_model().objects.create_user("ana")
    decision = review_record(ticket_id=ticket.id, user=user, values={"category": "bug"})
    assert decision.action == ReviewDecision.Action.CORRECT
