"""While a ticket is Pending its targets stand still: the reports do not count them missed, and the
ticket page and the queue say "paused" with the time that was left."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.factories import TicketFactory
from triage.models import Ticket
from triage.selectors.reports import ReportFilters
from triage.selectors.sla import sla_report
from triage.selectors.sla_ticket import ticket_sla_targets
from triage.templatetags.sla_tags import sla_cell

pytestmark = pytest.mark.django_db


def _pending(*, due_h: float, paused_h: float) -> Ticket:
    """Created two days ago, resolution due due_h hours later, Pending since paused_h hours later."""
    created = timezone.now() - dt.timedelta(days=2)
    ticket = TicketFactory(status=Ticket.Status.PENDING)
    Ticket.objects.filter(id=ticket.id).update(
        created_at=created,
        reviewed_at=created,
        sla_resolve_due_at=created + dt.timedelta(hours=due_h),
        sla_paused_at=created + dt.timedelta(hours=paused_h),
        sla_due_at=None,
    )
    return Ticket.objects.get(id=ticket.id)


def test_a_target_whose_time_ran_out_while_pending_is_not_missed():
    waiting = _pending(due_h=4, paused_h=1)  # due two days ago on the wall clock, but paused with 3h left
    late = _pending(due_h=4, paused_h=5)  # already overdue when it stopped
    report = sla_report(filters=ReportFilters())
    assert (report.overall.resolve_met, report.overall.resolve_missed) == (0, 1)
    # the same tickets running again count as missed: only the pause holds the first one back
    Ticket.objects.filter(id__in=[waiting.id, late.id]).update(sla_paused_at=None)
    assert sla_report(filters=ReportFilters()).overall.resolve_missed == 2


def test_the_ticket_page_and_the_queue_show_the_paused_clock():
    waiting = _pending(due_h=4, paused_h=1)
    [target] = ticket_sla_targets(waiting)
    assert target.state == "paused" and target.seconds_left == 3 * 3600
    late = _pending(due_h=4, paused_h=5)
    assert ticket_sla_targets(late)[0].state == "overdue"
    assert "Paused" in sla_cell(waiting) and "sla-paused" in sla_cell(waiting)
