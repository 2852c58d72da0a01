"""The ticket counts per status (models.TicketStatusCount) counted again from the tickets.

The triggers keep them in every write's own transaction; only tickets written with the triggers
off leave them wrong: rows loaded with `session_replication_role = replica`, or a data-only
`pg_restore --disable-triggers` of tickets without their counts. `manage.py ticket_status_recount`
runs this after such a load."""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import Count, F

from triage.models import Ticket, TicketStatusCount


@transaction.atomic
def ticket_status_counts_rebuild() -> dict[str, int]:
    """Count every ticket again, with ticket writes held off meanwhile (PostgreSQL; SQLite has one
    writer at a time), so none is missed or counted twice. Returns the totals per status."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE triage_ticket IN SHARE ROW EXCLUSIVE MODE")
    TicketStatusCount.objects.all().delete()
    rows = (
        Ticket.objects.order_by()
        .annotate(slot=F("id") % TicketStatusCount.SLOTS)
        .values("status", "slot")
        .annotate(n=Count("*"))
    )
    counts = [TicketStatusCount(status=r["status"], slot=r["slot"], n=r["n"]) for r in rows]
    TicketStatusCount.objects.bulk_create(counts)
    totals: dict[str, int] = {}
    for count in counts:
        totals[count.status] = totals.get(count.status, 0) + count.n
    return totals
