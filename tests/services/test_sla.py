"""Service levels: due times on the wall clock and in business hours, the policy that applies, and
every save (create, triage, review, priority change, solve) keeping a ticket's due times current."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.factories import TicketFactory, UserFactory
from triage.models import SlaPolicy, Ticket
from triage.services.lifecycle import ticket_status_set
from triage.services.review import review_record
from triage.services.sla import (
    Calendar,
    Policy,
    SlaPolicyError,
    sla_add,
    sla_business_hours_save,
    sla_policy_for,
    sla_policy_save,
)

UTC = dt.UTC


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    # 2026-03-02 is a Monday
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def test_wall_clock_adds_minutes():
    assert sla_add(start=at(2, 10), minutes=90, calendar=None) == at(2, 11, 30)


def test_business_hours_skip_the_night_and_the_weekend():
    cal = Calendar(tz="UTC", weekdays=frozenset(range(5)), start=dt.time(9), end=dt.time(17))
    # within the day
    assert sla_add(start=at(2, 10), minutes=60, calendar=cal) == at(2, 11)
    # 16:00 + 2h: one hour on Monday, one on Tuesday morning
    assert sla_add(start=at(2, 16), minutes=120, calendar=cal) == at(3, 10)
    # arriving before opening counts from 09:00
    assert sla_add(start=at(2, 6), minutes=30, calendar=cal) == at(2, 9, 30)
    # Friday 16:30 + 1h: half an hour Friday, half an hour Monday
    assert sla_add(start=at(6, 16, 30), minutes=60, calendar=cal) == at(9, 9, 30)
    # arriving on Saturday counts from Monday 09:00
    assert sla_add(start=at(7, 12), minutes=8 * 60, calendar=cal) == at(9, 17)


def test_business_hours_in_a_time_zone():
    cal = Calendar(tz="America/New_York", weekdays=frozenset(range(5)), start=dt.time(9), end=dt.time(17))
    # 12:00 UTC Monday is 07:00 in New York (EST, UTC-5): the day opens at 14:00 UTC
    assert sla_add(start=at(2, 12), minutes=60, calendar=cal) == at(2, 15)


def test_the_most_specific_policy_applies():
    default = Policy("", "", 600, None, False)
    high = Policy("high", "", 60, None, False)
    high_billing = Policy("high", "billing_team", 30, None, False)
    billing = Policy("", "billing_team", 120, None, False)
    policies = [default, high, high_billing, billing]
    assert sla_policy_for(priority="high", queue="billing_team", policies=policies) == high_billing
    assert sla_policy_for(priority="high", queue="tier1", policies=policies) == high
    assert sla_policy_for(priority="low", queue="billing_team", policies=policies) == billing
    assert sla_policy_for(priority="low", queue="tier1", policies=policies) == default
    assert sla_policy_for(priority="low", queue="", policies=[high]) is None


@pytest.mark.django_db
def test_due_times_follow_a_ticket_through_create_review_priority_change_and_solve():
    sla_policy_save(
        priority="", queue="", first_decision_minutes=8 * 60, resolution_minutes=48 * 60, business_hours=False
    )
    sla_policy_save(
        priority="urgent", queue="", first_decision_minutes=30, resolution_minutes=240, business_hours=False
    )
    ticket = TicketFactory()
    ticket.refresh_from_db()
    assert ticket.sla_first_due_at == ticket.created_at + dt.timedelta(hours=8)
    assert ticket.sla_due_at == ticket.sla_first_due_at

    # the model proposes urgent (a plain save, as services/triage does)
    ticket.priority, ticket.status = "urgent", Ticket.Status.NEEDS_REVIEW
    ticket.save()
    ticket.refresh_from_db()
    assert ticket.sla_due_at == ticket.created_at + dt.timedelta(minutes=30)

    # reviewed: the first decision is made; resolution is next, from the reviewed priority
    review_record(ticket_id=ticket.id, user=UserFactory(), values={"priority": "urgent"})
    ticket.refresh_from_db()
    assert ticket.sla_resolve_due_at == ticket.created_at + dt.timedelta(hours=4)
    assert ticket.sla_due_at == ticket.sla_resolve_due_at

    # solved: nothing is due any more, and the targets stay for the reports
    ticket_status_set(ticket_id=ticket.id, user=UserFactory(), status=Ticket.Status.SOLVED)
    ticket.refresh_from_db()
    assert ticket.sla_due_at is None and ticket.sla_resolve_due_at is not None


@pytest.mark.django_db
def test_a_policy_change_recomputes_open_tickets_only():
    open_ticket = TicketFactory(status=Ticket.Status.NEEDS_REVIEW, priority="high")
    solved = TicketFactory(status=Ticket.Status.SOLVED, priority="high", solved_at=timezone.now())
    policy = sla_policy_save(
        priority="high", queue="", first_decision_minutes=60, resolution_minutes=None, business_hours=False
    )
    open_ticket.refresh_from_db()
    solved.refresh_from_db()
    assert open_ticket.sla_due_at == open_ticket.created_at + dt.timedelta(hours=1)
    assert solved.sla_due_at is None
    sla_policy_save(
        policy_id=policy.id,
        priority="high",
        queue="",
        first_decision_minutes=15,
        resolution_minutes=None,
        business_hours=False,
    )
    open_ticket.refresh_from_db()
    assert open_ticket.sla_due_at == open_ticket.created_at + dt.timedelta(minutes=15)


@pytest.mark.django_db
def test_business_hours_policy_uses_the_saved_calendar():
    sla_business_hours_save(tz="UTC", weekdays=[0, 1, 2, 3, 4], start=dt.time(9), end=dt.time(17))
    sla_policy_save(
        priority="", queue="", first_decision_minutes=60, resolution_minutes=None, business_hours=True
    )
    ticket = TicketFactory()
    Ticket.objects.filter(id=ticket.id).update(created_at=at(6, 16, 30))  # a Friday afternoon
    ticket.refresh_from_db()
    ticket.save()  # any save recomputes
    ticket.refresh_from_db()
    assert ticket.sla_first_due_at == at(9, 9, 30)


@pytest.mark.django_db
def test_an_overdue_ticket_keeps_its_past_due_time_and_sorts_first():
    sla_policy_save(
        priority="", queue="", first_decision_minutes=60, resolution_minutes=None, business_hours=False
    )
    late = TicketFactory(status=Ticket.Status.NEEDS_REVIEW)
    Ticket.objects.filter(id=late.id).update(created_at=timezone.now() - dt.timedelta(hours=3))
    late.refresh_from_db()
    late.save()
    fresh = TicketFactory(status=Ticket.Status.NEEDS_REVIEW)
    late.refresh_from_db()
    assert late.sla_due_at < timezone.now()
    ordered = list(Ticket.objects.order_by("sla_due_at", "id").values_list("id", flat=True))
    assert ordered == [late.id, fresh.id]


@pytest.mark.django_db
def test_a_policy_needs_a_target_and_is_unique_per_priority_and_queue():
    with pytest.raises(SlaPolicyError):
        sla_policy_save(
            priority="", queue="", first_decision_minutes=None, resolution_minutes=None, business_hours=False
        )
    sla_policy_save(
        priority="low", queue="", first_decision_minutes=5, resolution_minutes=None, business_hours=False
    )
    with pytest.raises(SlaPolicyError):
        sla_policy_save(
            priority="low", queue="", first_decision_minutes=9, resolution_minutes=None, business_hours=False
        )
    assert SlaPolicy.objects.count() == 1


@pytest.mark.django_db
def test_the_bulk_recompute_agrees_with_the_per_ticket_computation():
    """sla_recompute writes wall-clock policies in SQL and business-hours ones in Python: both must
    give what a single ticket's save computes."""
    now = timezone.now()
    tickets = [
        TicketFactory(status=Ticket.Status.NEEDS_REVIEW, priority="high", queue="tier1"),
        TicketFactory(status=Ticket.Status.REVIEWED, priority="high", queue="tier1", reviewed_at=now),
        TicketFactory(status=Ticket.Status.NEEDS_REVIEW, priority="low", queue="tier2"),
        TicketFactory(status=Ticket.Status.REVIEWED, priority="low", queue="billing_team", reviewed_at=now),
        TicketFactory(status=Ticket.Status.NEEDS_REVIEW, priority="normal", queue=""),
    ]
    sla_policy_save(
        priority="high", queue="", first_decision_minutes=30, resolution_minutes=None, business_hours=False
    )
    sla_policy_save(
        priority="low", queue="", first_decision_minutes=None, resolution_minutes=600, business_hours=True
    )
    sla_policy_save(
        priority="", queue="tier1", first_decision_minutes=5, resolution_minutes=50, business_hours=False
    )
    from triage.services.sla import sla_ticket_refresh

    stored = {t.id: t for t in Ticket.objects.filter(id__in=[t.id for t in tickets])}
    for ticket in stored.values():
        before = (ticket.sla_first_due_at, ticket.sla_resolve_due_at, ticket.sla_due_at)
        due = sla_ticket_refresh(ticket=ticket)
        assert before == (due.first, due.resolve, due.next), ticket.priority
    high_open, high_reviewed, low_open, low_reviewed, normal = (stored[t.id] for t in tickets)
    assert high_open.sla_due_at == high_open.created_at + dt.timedelta(minutes=30)
    assert high_reviewed.sla_due_at is None  # no resolution target, first decision made
    assert low_open.sla_due_at == low_open.sla_resolve_due_at is not None  # no first-decision target
    assert (
        low_reviewed.sla_first_due_at is None and low_reviewed.sla_due_at == low_reviewed.sla_resolve_due_at
    )
    assert normal.sla_due_at is None
