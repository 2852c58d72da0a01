"""Erase everything Triage holds about one requester (docs/retention.md).

    python manage.py requester_erase customer@example.com --dry-run
    python manage.py requester_erase customer@example.com

Their tickets' text is blanked (the rows stay, for the counts in reports), their screenshots,
recordings and raw mail deleted from storage, the conversation blanked, report exports that may
list them deleted; an audit record keeps who, when and how much, and a keyed hash of the address.
Running it again finds nothing left and records an erasure of nothing.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from triage.services.retention import requester_erase


class Command(BaseCommand):
    help = "Erase one requester's tickets, media, mail and exports (with --dry-run: only count)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--dry-run", action="store_true", help="Count what would go; change nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        email = options["email"].strip()
        if "@" not in email:
            raise CommandError(f"Not an email address: {email!r}")
        plan = requester_erase(email=email, via="command", dry_run=options["dry_run"])
        counts = ", ".join(f"{name} {count}" for name, count in plan.counts().items())
        verb = "would erase" if options["dry_run"] else "erased"
        self.stdout.write(f"{verb}: {counts}")
        if plan.handoffs:
            self.stdout.write(
                f"{plan.handoffs} tickets were handed off to outside tools: erase them there too."
            )
