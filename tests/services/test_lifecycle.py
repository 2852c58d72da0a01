"""A ticket's life after review: agents move it, time closes it, the customer's reply reopens it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import TicketFactory, UserFactory
from triage.models import Ticket, TicketEvent
from triage.services.lifecycle import (
    StatusChangeRefused,
    ticket_customer_replied,
    ticket_status_set,
    tickets_auto_close,
)

pytestmark = pytest.mark.django_db


def test_an_agent_moves_an_open_ticket_to_pending_then_solved_and_history_records_each(db):
    agent = UserFactory()
    ticket = TicketFactory(status=Ticket.Status.REVIEWED)
    ticket_status_set(ticket_id=ticket.id, user=agent, status=Ticket.Status.PENDING)
    ticket_status_set(ticket_id=ticket.id, user=agent, status=Ticket.Status.SOLVED)
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.SOLVED and ticket.solved_at is not None
    events = list(TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.STATUS).order_by("id"))
    assert [(e.before["status"], e.after["status"]) for e in events] == [
        ("REVIEWED", "PENDING"),
        ("PENDING", "SOLVED"),
    ]
    assert {e.user_id for e in events} == {agent.id}


def test_setting_the_same_status_records_nothing(db):
    ticket = TicketFactory(status=Ticket.Status.PENDING)
    assert ticket_status_set(ticket_id=ticket.id, user=UserFactory(), status=Ticket.Status.PENDING) is None
    assert not TicketEvent.objects.exists()


@pytest.mark.parametrize(
    ("current", "wanted"),
    [
        (Ticket.Status.NEEDS_REVIEW, Ticket.Status.PENDING),  # not reviewed yet
        (Ticket.Status.CLOSED, Ticket.Status.REVIEWED),  # closed is final
        (Ticket.Status.REVIEWED, Ticket.Status.CLOSED),  # only time closes
    ],
)
def test_refused_status_changes(db, current, wanted):
    ticket = TicketFactory(status=current)
    with pytest.raises(StatusChangeRefused):
        ticket_status_set(ticket_id=ticket.id, user=UserFactory(), status=wanted)
    assert Ticket.objects.get(id=ticket.id).status == current


@pytest.mark.parametrize("status", [Ticket.Status.PENDING, Ticket.Status.SOLVED])
def test_a_customer_reply_reopens_pending_and_solved(db, status):
    ticket = TicketFactory(status=status)
    assert ticket_customer_replied(ticket_id=ticket.id) is True
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.REVIEWED and ticket.solved_at is None
    event = TicketEvent.objects.get(ticket=ticket)
    assert event.user is None and event.after == {"status": "REVIEWED", "why": "the customer replied"}


def test_a_customer_reply_leaves_an_open_ticket_as_it_is(db):
    ticket = TicketFactory(status=Ticket.Status.REVIEWED)
    assert ticket_customer_replied(ticket_id=ticket.id) is False
    assert not TicketEvent.objects.exists()


def test_solved_tickets_close_after_the_configured_days_once(db):
    now = timezone.now()
    old = TicketFactory(status=Ticket.Status.SOLVED, solved_at=now - timedelta(days=8))
    recent = TicketFactory(status=Ticket.Status.SOLVED, solved_at=now - timedelta(days=6))
    pending = TicketFactory(status=Ticket.Status.PENDING)
    assert tickets_auto_close(days=7, now=now, batch=1) == 1
    assert tickets_auto_close(days=7, now=now) == 0  # a second run closes nothing again
    assert Ticket.objects.get(id=old.id).status == Ticket.Status.CLOSED
    assert Ticket.objects.get(id=old.id).solved_at == old.solved_at  # when it was solved is kept
    assert Ticket.objects.get(id=recent.id).status == Ticket.Status.SOLVED
    assert Ticket.objects.get(id=pending.id).status == Ticket.Status.PENDING
    assert TicketEvent.objects.filter(ticket=old, kind=TicketEvent.Kind.STATUS).count() == 1
