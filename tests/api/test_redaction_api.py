"""The REST API with TRIAGE_REDACT=everywhere: redacted for a token without "view sensitive data"."""

from __future__ import annotations

import pytest

from triage.models import Ticket

pytestmark = pytest.mark.django_db

EMAIL = "anna.schmidt@example.de"


@pytest.fixture
def ticket():
    return Ticket.objects.create(
        subject=f"Refund to {EMAIL}",
        description="Card 4242 4242 4242 4242 was charged twice.",
        requester_email=EMAIL,
        status=Ticket.Status.NEEDS_REVIEW,
    )


def test_everywhere_redacts_the_api(api_client, ticket, settings):
    settings.TRIAGE_REDACT = "everywhere"
    client = api_client("agent", "read")
    one = client.api("get", f"/api/v1/tickets/{ticket.id}").json()
    listed = client.api("get", "/api/v1/tickets").json()
    assert EMAIL not in str(one) and "[email 1]" in str(one)
    assert EMAIL not in str(listed)
    settings.TRIAGE_REDACT = "model"
    assert EMAIL in str(client.api("get", f"/api/v1/tickets/{ticket.id}").json())
