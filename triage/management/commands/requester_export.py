"""Write one requester's data export (the Privacy page's zip) to a file, for a set too large to
download through a web request's time limit.

    python manage.py requester_export customer@example.com /tmp/customer.zip
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from triage.services.retention import requester_export


class Command(BaseCommand):
    help = "Write a zip of one requester's tickets (JSON) and files to PATH."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("path", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        email, path = options["email"].strip(), options["path"]
        if "@" not in email:
            raise CommandError(f"Not an email address: {email!r}")
        with open(path, "xb") as out:  # never overwrite: the zip holds personal data
            tickets = requester_export(email=email, out=out)
        self.stdout.write(f"{tickets} tickets written to {path}")
