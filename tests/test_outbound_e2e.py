"""Outbound mail end to end: a real `outbound` worker process and a real SMTP server on a local port.

Runs on the embedded broker and on Redis + PostgreSQL (the production shape).
"""

from __future__ import annotations

import pytest

from tests.factories import TicketFactory
from tests.worker import wait_for
from triage.models import OutboundEmail, Ticket
from triage.services.outbound import reply_send

pytestmark = pytest.mark.django_db(transaction=True)


def smtp_env(smtp_server) -> dict[str, str]:
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_server.port),
        "EMAIL_TIMEOUT_S": "3",
    }


def test_the_outbound_worker_sends_a_reply_and_a_server_that_was_down_gets_it_once(start_worker, smtp_server):
    start_worker(queues="outbound", **smtp_env(smtp_server))
    ticket = TicketFactory(status=Ticket.Status.REVIEWED, requester_email="maria@example.com")
    first = reply_send(ticket_id=ticket.id, author=None, body="First", to=["maria@example.com"])
    assert smtp_server.wait_for(1)[0].message["Message-ID"] == f"<{first.message_id}>"
    wait_for(
        lambda: OutboundEmail.objects.get(id=first.id).status == OutboundEmail.Status.SENT, message="sent"
    )

    smtp_server.stop()
    second = reply_send(ticket_id=ticket.id, author=None, body="Second", to=["maria@example.com"])
    wait_for(
        lambda: OutboundEmail.objects.get(id=second.id).error_message.startswith("retrying: "),
        message="the send to be retried while the server is down",
    )
    smtp_server.start()
    wait_for(
        lambda: OutboundEmail.objects.get(id=second.id).status == OutboundEmail.Status.SENT, message="sent"
    )
    received = smtp_server.received
    # each reply exactly once, the retried one included
    assert [r.message["Message-ID"] for r in received] == [f"<{first.message_id}>", f"<{second.message_id}>"]
    assert OutboundEmail.objects.get(id=second.id).attempts >= 2
