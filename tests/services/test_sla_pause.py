"""The service-level clock stands still while a ticket is Pending (waiting on the customer)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.factories import TicketFactory, UserFactory
from triage.models import SlaPolicy, Ticket
from triage.services.lifecycle import ticket_status_set
from triage.services.review import review_record
from triage.services.sla import sla_due, sla_pause_step, sla_policy_save

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch):
    """timezone.now() under the test's control: clock["now"] moves it."""
    state = {"now": timezone.now().replace(microsecond=0)}
    monkeypatch.setattr(timezone, "now", lambda: state["now"])
    return state


def test_the_pause_step_stops_and_restarts_the_clock():
    t0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    paused_at, seconds = sla_pause_step(status=Ticket.Status.PENDING, paused_at=None, paused_s=0, now=t0)
    assert (paused_at, seconds) == (t0, 0)
    # saved again while still Pending: the pause keeps its start
    later = t0 + dt.timedelta(minutes=5)
    assert sla_pause_step(status=Ticket.Status.PENDING, paused_at=t0, paused_s=0, now=later) == (t0, 0)
    # open again after 90 minutes: the clock runs, 5400 s more stood still
    back = t0 + dt.timedelta(minutes=90)
    assert sla_pause_step(status=Ticket.Status.REVIEWED, paused_at=t0, paused_s=60, now=back) == (None, 5460)


def test_due_times_move_on_by_the_paused_seconds_and_nothing_is_next_while_paused():
    from triage.services.sla import Policy

    created = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    policies = [Policy("", "", 60, 240, False)]
    args = {"created_at": created, "priority": "", "queue": "", "status": "OPEN", "solved_at": None}
    due = sla_due(**args, reviewed_at=created, policies=policies, calendar=None, paused_s=1800)
    assert due.resolve == created + dt.timedelta(hours=4, minutes=30)
    assert due.first == created + dt.timedelta(hours=1, minutes=30)
    assert due.next == due.resolve
    paused = sla_due(**args, reviewed_at=created, policies=policies, calendar=None, paused=True)
    assert paused.next is None and paused.resolve == created + dt.timedelta(hours=4)


def test_time_in_pending_is_left_out_of_the_resolution_target(clock):
    sla_policy_save(
        priority="", queue="", first_decision_minutes=60, resolution_minutes=240, business_hours=False
    )
    agent = UserFactory()
    ticket = TicketFactory(status=Ticket.Status.NEEDS_REVIEW)
    created = Ticket.objects.get(id=ticket.id).created_at
    review_record(ticket_id=ticket.id, user=agent, values={"priority": "normal"})

    clock["now"] = created + dt.timedelta(hours=1)
    ticket_status_set(ticket_id=ticket.id, user=agent, status=Ticket.Status.PENDING)
    ticket.refresh_from_db()
    assert ticket.sla_paused_at == clock["now"]
    assert ticket.sla_due_at is None  # nothing is due while waiting on the customer
    assert ticket.sla_resolve_due_at == created + dt.timedelta(hours=4)

    clock["now"] = created + dt.timedelta(hours=3)  # the customer answers two hours later
    ticket_status_set(ticket_id=ticket.id, user=agent, status=Ticket.Status.REVIEWED)
    ticket.refresh_from_db()
    assert ticket.sla_paused_at is None and ticket.sla_paused_s == 2 * 3600
    assert ticket.sla_resolve_due_at == created + dt.timedelta(hours=6)
    assert ticket.sla_due_at == ticket.sla_resolve_due_at

    # a second wait adds up, and a policy change (the bulk recompute) keeps what stood still
    clock["now"] = created + dt.timedelta(hours=4)
    ticket_status_set(ticket_id=ticket.id, user=agent, status=Ticket.Status.PENDING)
    clock["now"] = created + dt.timedelta(hours=4, minutes=30)
    ticket_status_set(ticket_id=ticket.id, user=agent, status=Ticket.Status.REVIEWED)
    sla_policy_save(
        policy_id=SlaPolicy.objects.get().id,
        priority="",
        queue="",
        first_decision_minutes=60,
        resolution_minutes=300,
        business_hours=False,
    )
    ticket.refresh_from_db()
    assert ticket.sla_paused_s == 2 * 3600 + 1800
    assert ticket.sla_resolve_due_at == created + dt.timedelta(hours=5 + 2, minutes=30)
    assert ticket.sla_due_at == ticket.sla_resolve_due_at
