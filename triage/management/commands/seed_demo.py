"""Demo users and a handful of demo tickets with generated screenshots and a screen recording.

Idempotent: users are created or their demo password reset; demo tickets are created once.
The tickets go through the real path (ticket_create -> media queue -> llm queue), so the worker
started by `make run` processes them.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission, User
from django.core.management.base import BaseCommand, CommandParser

from triage.demo_media import render_recording, render_screenshot
from triage.models import Ticket
from triage.services.tickets import Upload, ticket_create

DEMO_MARKER = "@demo.example.com"

DEMO_USERS = (
    # username, group, env var for the password, default password
    ("agent", "agents", "TRIAGE_DEMO_AGENT_PASSWORD", "agent-demo-pass"),
    ("manager", "managers", "TRIAGE_DEMO_MANAGER_PASSWORD", "manager-demo-pass"),
    # the administrator role is is_superuser (triage/roles.py), not a group
    ("admin", "admins", "TRIAGE_DEMO_ADMIN_PASSWORD", "admin-demo-pass"),
)


def _upload(name: str, data: bytes) -> Upload:
    return Upload(fileobj=io.BytesIO(data), name=name, size_bytes=len(data))


class Command(BaseCommand):
    help = "Create the demo users (printing their passwords) and demo tickets with generated media."

    def add_arguments(self, parser: CommandParser) -> None:
        # `make run` passes its own HOST and PORT: the printed address is the one the server answers on
        parser.add_argument(
            "--url",
            default="http://127.0.0.1:8000/",
            help="where the server answers, printed as the address to log in at (default %(default)s)",
        )

    def handle(self, *args: object, **options: object) -> None:
        users = self._users()
        if Ticket.objects.filter(requester_email__endswith=DEMO_MARKER).exists():
            self.stdout.write("demo tickets already present")
        else:
            self._tickets(creator=users["agent"])
            self.stdout.write("demo tickets created; the worker triages them in a few seconds")
        self.stdout.write(self.style.SUCCESS(f"\nLog in at {options['url']} with:"))
        for username, group, env_name, default in DEMO_USERS:
            self.stdout.write(
                f"  {group[:-1]:8} user {username!r:10} password {os.environ.get(env_name, default)!r}"
            )

    def _users(self) -> dict[str, User]:
        user_model = get_user_model()
        managers, _ = Group.objects.get_or_create(name="managers")
        Group.objects.get_or_create(name="agents")
        managers.permissions.add(
            *Permission.objects.filter(content_type__app_label="triage", codename__endswith="taxonomyvalue")
        )
        users: dict[str, User] = {}
        for username, group, env_name, default in DEMO_USERS:
            user, _ = user_model.objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.com"}
            )
            user.set_password(os.environ.get(env_name, default))
            # managers edit the taxonomy in the admin
            user.is_staff = group in ("managers", "admins")
            user.is_superuser = group == "admins"
            user.save()
            if group != "admins":
                user.groups.add(Group.objects.get(name=group))
            users[username] = user
        return users

    def _tickets(self, *, creator: User) -> None:
        checkout_shot = render_screenshot(
            title="Acme Shop - Checkout",
            lines=["Order #10234", "Card ending 4242", "Total: 129.00 EUR", "[ Pay now ]"],
            error_dialog="Payment failed: HTTP 500 Internal Server Error (ref 7f3a)",
        )
        login_shot = render_screenshot(
            title="Acme - Sign in",
            lines=["Email: jane@customer.example", "Password: ********", "[ Sign in ]"],
            error_dialog="Invalid credentials. Your account is locked after 5 attempts.",
        )
        dashboard_shot = render_screenshot(
            title="Acme Analytics - Dashboard",
            lines=["Loading widgets...", "Revenue (loading)", "Active users (loading)", "Elapsed: 31.4 s"],
        )
        with tempfile.TemporaryDirectory() as tmp:
            recording = Path(tmp) / "checkout-recording.mp4"
            render_recording(recording, seconds=6, error_text="Payment failed: HTTP 500")
            recording_bytes = recording.read_bytes()

        demo = [
            (
                "Checkout fails with error 500 when paying by card",
                "Since this morning every card payment fails at the last step. The page shows "
                "'Payment failed: HTTP 500'. This is blocking all our sales, please help asap! "
                "Steps: add item to cart, go to checkout, pay with card. Recording attached.",
                "ops@demo.example.com",
                [
                    _upload("checkout-error.png", checkout_shot),
                    _upload("checkout-recording.mp4", recording_bytes),
                ],
            ),
            (
                "Cannot log in after password reset",
                "I reset my password yesterday but the sign-in page keeps saying invalid credentials "
                "and now my account is locked. I need access to download my invoices.",
                "jane@demo.example.com",
                [_upload("login.png", login_shot)],
            ),
            (
                "Rechnung doppelt abgebucht",
                "Hallo, uns wurde die Rechnung für November zweimal von der Kreditkarte abgebucht. "
                "Bitte erstatten Sie den doppelten Betrag. Vielen Dank.",
                "buchhaltung@demo.example.com",
                [],
            ),
            (
                "Dashboard takes 30 seconds to load",
                "The analytics dashboard has become very slow, it takes more than 30 seconds before "
                "the widgets appear. It used to be instant. Screenshot attached.",
                "analyst@demo.example.com",
                [_upload("dashboard.png", dashboard_shot)],
            ),
            (
                "¿Cómo exporto mis datos a CSV?",
                "Hola, quisiera saber cómo puedo exportar la lista de clientes a un archivo CSV. Gracias.",
                "cliente@demo.example.com",
                [],
            ),
        ]
        for subject, body, requester, uploads in demo:
            ticket_create(
                subject=subject,
                description=body,
                requester_email=requester,
                uploads=uploads,
                created_by=creator,
                acknowledge=False,  # demo requesters are made up: no mail goes to them
            )
