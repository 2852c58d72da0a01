from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db.models import Count

from tests.factories import TicketFactory
from triage.models import Ticket, TicketStatusCount
from triage.selectors import ticket_status_counts

pytestmark = pytest.mark.django_db


def test_the_recount_puts_counts_written_around_the_triggers_right():
    TicketFactory.create_batch(5, status=Ticket.Status.NEEDS_REVIEW)
    TicketFactory.create_batch(2, status=Ticket.Status.CLOSED)
    # what a load with the triggers off leaves: counts that do not match the tickets
    TicketStatusCount.objects.filter(status=Ticket.Status.NEEDS_REVIEW).update(n=0)
    TicketStatusCount.objects.create(status=Ticket.Status.PENDING, slot=99, n=7)
    assert ticket_status_counts() != {Ticket.Status.NEEDS_REVIEW: 5, Ticket.Status.CLOSED: 2}
    out = io.StringIO()
    call_command("ticket_status_recount", stdout=out)
    real = dict(Ticket.objects.order_by().values("status").annotate(n=Count("*")).values_list("status", "n"))
    assert ticket_status_counts() == real == {Ticket.Status.NEEDS_REVIEW: 5, Ticket.Status.CLOSED: 2}
    assert "NEEDS_REVIEW: 5" in out.getvalue() and "7 tickets counted" in out.getvalue()
    TicketFactory(status=Ticket.Status.CLOSED)  # the triggers go on from the recounted rows
    assert ticket_status_counts()[Ticket.Status.CLOSED] == 3
