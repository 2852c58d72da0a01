"""Service levels met, overall, per queue and per agent, on the reports dashboard."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import TicketFactory, UserFactory, taxonomy_rows
from triage.models import Ticket
from triage.selectors.reports import ReportFilters
from triage.selectors.sla import sla_report

pytestmark = pytest.mark.django_db


def _ticket(
    *, queue: str, first_due_h: float, reviewed_h: float | None, agent=None, solved_late: bool = False
):
    """A ticket created two days ago whose first decision was due first_due_h hours later and made
    reviewed_h hours later (None: not yet)."""
    created = timezone.now() - dt.timedelta(days=2)
    ticket = TicketFactory(queue=queue, assignee=agent)
    Ticket.objects.filter(id=ticket.id).update(
        created_at=created,
        sla_first_due_at=created + dt.timedelta(hours=first_due_h),
        reviewed_at=created + dt.timedelta(hours=reviewed_h) if reviewed_h is not None else None,
        sla_resolve_due_at=created + dt.timedelta(hours=1) if solved_late else None,
        solved_at=created + dt.timedelta(hours=5) if solved_late else None,
    )
    return ticket


def test_met_and_missed_per_queue_and_agent():
    ana, bo = UserFactory(first_name="Ana", last_name="A"), UserFactory(first_name="Bo", last_name="B")
    _ticket(queue="tier1", first_due_h=4, reviewed_h=1, agent=ana)  # met
    _ticket(queue="tier1", first_due_h=4, reviewed_h=6, agent=ana)  # done late
    _ticket(queue="billing_team", first_due_h=4, reviewed_h=None, agent=bo)  # overdue now
    _ticket(queue="billing_team", first_due_h=100, reviewed_h=None, agent=bo)  # not settled yet
    _ticket(queue="billing_team", first_due_h=4, reviewed_h=2, agent=bo, solved_late=True)  # met + late
    report = sla_report(filters=ReportFilters())
    o = report.overall
    assert (o.first_met, o.first_missed, o.resolve_met, o.resolve_missed) == (2, 2, 0, 1)
    assert o.first_pct == 50.0 and o.resolve_pct == 0.0 and o.pct == 40.0
    queues = {t.key: (t.met, t.missed) for t in report.by_queue}
    assert queues == {"tier1": (1, 1), "billing_team": (1, 2)}
    agents = {t.key: t.pct for t in report.by_agent}
    assert agents == {"Ana A": 50.0, "Bo B": pytest.approx(33.3)}


def test_the_dashboard_shows_the_sla_section(client):
    taxonomy_rows()
    manager = UserFactory()
    manager.groups.add(Group.objects.get_or_create(name="managers")[0])
    _ticket(queue="tier1", first_due_h=4, reviewed_h=1, agent=manager)
    _ticket(queue="tier1", first_due_h=4, reviewed_h=9, agent=manager)
    client = Client()
    client.force_login(manager)
    html = client.get(reverse("triage:reports")).content.decode()
    assert 'id="sla-met"' in html
    assert '<b id="sla-met-overall">50.0%</b>' in html
    assert "Tier 1 support" in html
