from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.factories import (
    AttachmentFactory,
    ReviewDecisionFactory,
    TriageRunFactory,
    taxonomy_rows,
    triaged_ticket,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    return client


def test_the_taxonomy_is_listed_filterable_and_editable_in_the_list(admin_client):
    taxonomy_rows()
    response = admin_client.get(reverse("admin:triage_taxonomyvalue_changelist"), {"field": "category"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Bug / error" in html and "Engineering" not in html  # filtered to categories
    assert 'name="form-0-position"' in html and 'name="form-0-is_active"' in html


def test_tickets_runs_and_decisions_can_be_looked_at_but_not_added(admin_client):
    ticket = triaged_ticket(subject="Refund please")
    AttachmentFactory(ticket=ticket, original_name="shot.png")
    TriageRunFactory(ticket=ticket, failed=True)
    decision = ReviewDecisionFactory(ticket=ticket)

    assert "Refund please" in admin_client.get(reverse("admin:triage_ticket_changelist")).content.decode()
    page = admin_client.get(reverse("admin:triage_ticket_change", args=[ticket.id])).content.decode()
    assert "shot.png" in page and "Request timed out after 300 s" in page
    assert 'name="_save"' not in page  # read-only
    assert admin_client.get(reverse("admin:triage_ticket_add")).status_code == 403

    assert admin_client.get(reverse("admin:triage_triagerun_changelist")).status_code == 200
    assert (
        admin_client.get(reverse("admin:triage_reviewdecision_change", args=[decision.id])).status_code == 200
    )
    assert admin_client.get(reverse("admin:triage_reviewdecision_add")).status_code == 403
