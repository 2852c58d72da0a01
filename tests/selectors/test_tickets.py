"""Ticket counts per status (selectors.ticket_status_counts), kept by database triggers: they must
equal a real GROUP BY after every kind of write, whatever code path made it, on SQLite and
PostgreSQL alike (the suite runs on either, see tests/settings.py)."""

from __future__ import annotations

import importlib
import threading
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import AttachmentFactory, TicketFactory, UserFactory, failed_ticket, triaged_ticket
from triage.models import Ticket, TicketStatusCount
from triage.selectors import ticket_status_counts
from triage.services.lifecycle import ticket_status_set, tickets_auto_close
from triage.services.triage import ticket_mark_manual

_counts_migration = importlib.import_module("triage.migrations.0028_h18counts")


def group_by() -> dict[str, int]:
    rows = Ticket.objects.order_by().values("status").annotate(n=Count("*"))
    return {row["status"]: row["n"] for row in rows}


def assert_exact() -> dict[str, int]:
    counts = ticket_status_counts()
    assert counts == group_by()
    return counts


@pytest.mark.django_db
def test_the_counts_match_a_group_by_after_a_mix_of_writes_through_the_real_paths(client, taxonomy):
    agent = UserFactory()
    client.force_login(agent)
    assert assert_exact() == {}

    # created over HTTP, as the intake does
    for n in range(3):
        response = client.post(
            reverse("triage:ticket-create"),
            {
                "subject": f"Checkout fails {n}",
                "description": "Every card payment fails.",
                "requester_email": "buyer@example.com",
            },
        )
        assert response.status_code == 302
    assert sum(assert_exact().values()) == 3

    # made by the factories: every status, and tickets triaged or failed by the pipeline's services
    for status in Ticket.Status.values:
        TicketFactory.create_batch(2, status=status)
    waiting = [triaged_ticket() for _ in range(4)]
    manual = failed_ticket()
    assert_exact()

    # a service's queryset .update() (no signal, no save)
    ticket_mark_manual(ticket_id=waiting[0].id, message="gave up")
    assert assert_exact()[Ticket.Status.MANUAL_TRIAGE] == 2 + 2

    # a bulk action over HTTP: each ticket in its own transaction
    response = client.post(
        reverse("triage:review-queue-bulk"),
        {"action": "accept", "ticket": [str(t.id) for t in (*waiting[1:], manual)]},
    )
    assert response.status_code == 302
    assert (
        Ticket.objects.filter(id__in=[t.id for t in waiting[1:]], status=Ticket.Status.REVIEWED).count() == 3
    )
    assert_exact()

    # the lifecycle: a status set by a person, and the auto-close sweep
    assert ticket_status_set(ticket_id=waiting[1].id, user=agent, status=Ticket.Status.PENDING) is not None
    solved = TicketFactory.create_batch(
        3, status=Ticket.Status.SOLVED, solved_at=timezone.now() - timedelta(days=9)
    )
    assert tickets_auto_close(days=7) >= len(solved)
    assert assert_exact()[Ticket.Status.CLOSED] >= 2 + 3

    # many rows in one statement, a write that leaves the status alone, and raw SQL
    Ticket.objects.filter(status=Ticket.Status.PROCESSING).update(status=Ticket.Status.TRIAGING)
    Ticket.objects.filter(status=Ticket.Status.TRIAGING).update(priority="high")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE triage_ticket SET status = %s WHERE id = %s", ["PENDING", waiting[2].id])
    assert_exact()

    # deletes: one ticket, and a queryset delete that cascades to attachments
    AttachmentFactory(ticket=waiting[3])
    waiting[3].delete()
    Ticket.objects.filter(status=Ticket.Status.CLOSED).delete()
    assert Ticket.Status.CLOSED not in assert_exact()

    # bulk_create, then a change rolled back with its transaction
    Ticket.objects.bulk_create(
        [Ticket(subject="bulk", description="d", status="NEEDS_REVIEW") for _ in range(5)]
    )
    before = assert_exact()
    with pytest.raises(RuntimeError), transaction.atomic():
        Ticket.objects.filter(status=Ticket.Status.NEEDS_REVIEW).update(status=Ticket.Status.SOLVED)
        assert ticket_status_counts() == group_by()  # the writer sees its own change counted
        raise RuntimeError("rolled back")
    assert assert_exact() == before
    assert len(before) >= 5  # not a trivially equal pair of empty dicts


@pytest.mark.django_db
def test_tickets_spread_over_slots_by_id_and_the_read_never_counts_tickets():
    tickets = TicketFactory.create_batch(TicketStatusCount.SLOTS + 4, status=Ticket.Status.NEEDS_REVIEW)
    slots = dict(
        TicketStatusCount.objects.filter(status=Ticket.Status.NEEDS_REVIEW, n__gt=0).values_list("slot", "n")
    )
    assert set(slots) == {t.id % TicketStatusCount.SLOTS for t in tickets}  # every slot used
    assert sum(slots.values()) == len(tickets)
    with CaptureQueriesContext(connection) as queries:
        assert ticket_status_counts() == {Ticket.Status.NEEDS_REVIEW: len(tickets)}
    assert len(queries) == 1
    assert "triage_ticketstatuscount" in queries[0]["sql"]
    assert '"triage_ticket"' not in queries[0]["sql"]


class _Editor:
    """What the migration's functions use of a schema editor (SQLite's cannot open in a test's
    transaction; triggers need none of what it does)."""

    connection = connection

    def execute(self, sql: str, params: object = None) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql)


@pytest.mark.django_db
def test_the_migration_counts_the_tickets_already_there():
    _counts_migration.drop_triggers(None, _Editor())
    TicketStatusCount.objects.all().delete()
    TicketFactory.create_batch(3, status=Ticket.Status.NEEDS_REVIEW)
    TicketFactory.create_batch(2, status=Ticket.Status.REVIEWED)
    assert ticket_status_counts() == {}  # no triggers: nothing counted
    _counts_migration.create_triggers(None, _Editor())
    assert assert_exact() == {Ticket.Status.NEEDS_REVIEW: 3, Ticket.Status.REVIEWED: 2}
    TicketFactory(status=Ticket.Status.REVIEWED)  # and counted again from there
    assert assert_exact()[Ticket.Status.REVIEWED] == 3


@pytest.mark.django_db
def test_truncating_the_tickets_empties_the_counts():
    if connection.vendor != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's (SQLite deletes row by row, which the triggers count)")
    TicketFactory.create_batch(3)
    assert sum(ticket_status_counts().values()) == 3
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE refuses pending foreign key checks
        cursor.execute("TRUNCATE triage_ticket CASCADE")
    assert ticket_status_counts() == {} == group_by()


@pytest.mark.django_db(transaction=True)
def test_writers_in_different_slots_do_not_wait_for_each_other():
    """The reason for the slots: an open transaction that moved one ticket holds its slot's rows,
    and a ticket in another slot is written at once; one in the same slot waits (here: gives up)."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (SQLite has one writer at a time)")
    tickets = TicketFactory.create_batch(TicketStatusCount.SLOTS + 2, status=Ticket.Status.NEEDS_REVIEW)
    first = tickets[0]
    other_slot = next(
        t for t in tickets if t.id % TicketStatusCount.SLOTS != first.id % TicketStatusCount.SLOTS
    )
    same_slot = next(
        t for t in tickets[1:] if t.id % TicketStatusCount.SLOTS == first.id % TicketStatusCount.SLOTS
    )
    outcome: dict[int, str] = {}

    def move(ticket: Ticket) -> None:
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '1s'")
                Ticket.objects.filter(id=ticket.id).update(status=Ticket.Status.REVIEWED)
            outcome[ticket.id] = "written"
        except DatabaseError:
            outcome[ticket.id] = "waited"
        finally:
            connection.close()

    with transaction.atomic():
        Ticket.objects.filter(id=first.id).update(status=Ticket.Status.REVIEWED)  # held until the end
        for ticket in (other_slot, same_slot):
            thread = threading.Thread(target=move, args=(ticket,))
            thread.start()
            thread.join(timeout=30)
    assert outcome == {other_slot.id: "written", same_slot.id: "waited"}
    assert assert_exact() == {Ticket.Status.REVIEWED: 2, Ticket.Status.NEEDS_REVIEW: len(tickets) - 2}
