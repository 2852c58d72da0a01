"""Build the report rollups of every day from the raw rows (after an upgrade, a change of prices or
of TIME_ZONE); the dashboard and beat keep them current afterwards."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Rebuild the dashboard's per-day rollups of every day from tickets, runs and reviews."

    def handle(self, *args: Any, **options: Any) -> None:
        from triage.services.report_rollups import report_rollups_rebuild

        started = time.perf_counter()
        days = report_rollups_rebuild()
        self.stdout.write(f"rebuilt {days} days in {time.perf_counter() - started:.1f} s")
