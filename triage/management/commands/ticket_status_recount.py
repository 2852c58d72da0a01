"""Count the tickets per status again (the queue's tabs), after tickets were loaded with the
database's triggers off; the triggers keep the counts current afterwards."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Count the tickets per status again from the tickets (after a load with triggers off)."

    def handle(self, *args: Any, **options: Any) -> None:
        from triage.services.status_counts import ticket_status_counts_rebuild

        totals = ticket_status_counts_rebuild()
        for status, n in sorted(totals.items()):
            self.stdout.write(f"{status}: {n}")
        self.stdout.write(f"{sum(totals.values())} tickets counted")
