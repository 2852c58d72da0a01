"""The managers' integrations page, the ticket page's hand-off box with Retry, the status webhooks."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from tests.factories import UserFactory, triaged_ticket
from triage.models import Destination, Handoff, RoutingRule
from triage.services.handoff import destination_save, destination_secret

pytestmark = pytest.mark.django_db

SLACK_URL = "https://hooks.slack.com/services/T000/B000/XXXX"


@pytest.fixture
def manager(client, view_taxonomy):
    user = UserFactory(username="mona")
    user.groups.add(Group.objects.get_or_create(name="managers")[0])
    client.force_login(user)
    return client


def _destination(**changes) -> Destination:
    fields = {
        "destination_id": None, "kind": "github", "name": "GitHub web", "base_url": "https://api.github.com",
        "project": "acme/web", "account": "", "options": {}, "secret": "ghp_secret_value",
    } | changes  # fmt: skip
    return destination_save(**fields)


def test_a_manager_adds_a_destination_whose_token_is_stored_encrypted_and_never_shown(manager):
    response = manager.post(
        reverse("triage:integrations"),
        {
            "form": "destination", "kind": "slack", "name": "Slack #incidents", "secret": SLACK_URL,
            "is_active": "on", "options": "",
        },
    )  # fmt: skip
    assert response.status_code == 302
    row = Destination.objects.get(name="Slack #incidents")
    assert SLACK_URL not in row.secret_encrypted and destination_secret(row) == SLACK_URL
    page = manager.get(reverse("triage:integrations")).content.decode()
    assert "stored (encrypted)" in page and SLACK_URL not in page
    edit = manager.get(reverse("triage:destination-edit", args=[row.id])).content.decode()
    assert SLACK_URL not in edit


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "github", "project": "not a repo", "secret": "x"}, "owner/repo"),
        ({"kind": "jira", "project": "WEB", "secret": "x"}, "account"),
        ({"kind": "slack", "secret": ""}, "credentials are required"),
        ({"kind": "slack", "secret": "", "secret_env": "DJANGO_SECRET_KEY"}, "TRIAGE_DEST_"),
        ({"kind": "slack", "secret": "x", "options": "[1"}, "Not JSON"),
    ],
)
def test_invalid_destinations_are_refused_with_a_reason(manager, fields, message):
    data = {"form": "destination", "name": "bad", "base_url": "https://example.atlassian.net"} | fields
    response = manager.post(reverse("triage:integrations"), data)
    assert response.status_code == 400 and message in response.content.decode()
    assert not Destination.objects.exists()


def test_editing_keeps_the_stored_token_when_left_empty(manager):
    row = _destination()
    response = manager.post(
        reverse("triage:destination-edit", args=[row.id]),
        {
            "kind": "github",
            "name": "GitHub renamed",
            "base_url": "https://api.github.com",
            "project": "acme/web",
        },
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert (
        row.name == "GitHub renamed" and destination_secret(row) == "ghp_secret_value" and not row.is_active
    )


def test_a_manager_defines_disables_and_deletes_a_rule(manager):
    destination = _destination()
    response = manager.post(
        reverse("triage:integrations"),
        {"form": "rule", "name": "Bugs", "position": "1", "category": "bug", "min_priority": "high",
         "destinations": [str(destination.id)]},
    )  # fmt: skip
    assert response.status_code == 302
    rule = RoutingRule.objects.get()
    assert (
        rule.category == "bug"
        and rule.min_priority == "high"
        and list(rule.destinations.all()) == [destination]
    )
    assert "priority ≥ high" in manager.get(reverse("triage:integrations")).content.decode()
    manager.post(reverse("triage:routing-rule", args=[rule.id]), {"action": "disable"})
    assert RoutingRule.objects.get().is_active is False
    manager.post(reverse("triage:routing-rule", args=[rule.id]), {"action": "delete"})
    assert not RoutingRule.objects.exists()


def test_a_rule_needs_a_destination_and_known_values(manager):
    response = manager.post(reverse("triage:integrations"), {"form": "rule", "name": "x", "category": "nope"})
    assert response.status_code == 400 and not RoutingRule.objects.exists()


def test_the_ticket_page_links_a_sent_hand_off_and_offers_retry_for_a_failed_one(agent, view_taxonomy):
    ticket = triaged_ticket()
    rule = RoutingRule.objects.create(name="Bugs to GitHub")
    Handoff.objects.create(
        ticket=ticket, destination=_destination(), rule=rule, status="sent", external_id="42",
        external_url="https://github.com/acme/web/issues/42",
    )  # fmt: skip
    failed = Handoff.objects.create(
        ticket=ticket, destination=_destination(name="Jira", kind="jira", account="a@b.c", project="WEB"),
        status="failed", last_error="Jira answered 404 (not found): No project could be found with key 'WEB'.",
    )  # fmt: skip
    html = agent.get(reverse("triage:ticket-detail", args=[ticket.id])).content.decode()
    assert 'href="https://github.com/acme/web/issues/42"' in html and "rule “Bugs to GitHub”" in html
    assert "No project could be found with key" in html
    retry = reverse("triage:handoff-retry", args=[ticket.id, failed.id])
    assert retry in html
    assert agent.post(retry).status_code == 302
    failed.refresh_from_db()
    assert failed.status == "intent" and failed.attempts == 0
    # another ticket's hand-off cannot be retried through this ticket's URL
    other = triaged_ticket()
    Handoff.objects.filter(id=failed.id).update(status="failed")
    agent.post(reverse("triage:handoff-retry", args=[other.id, failed.id]))
    assert Handoff.objects.get(id=failed.id).status == "failed"


@pytest.mark.parametrize("kind", ["github", "jira", "zendesk"])
def test_status_webhooks_refuse_unsigned_requests_and_get(client, kind):
    url = reverse(f"triage:hook-{kind}")
    assert client.post(url, b"{}", content_type="application/json").status_code == 401
    assert client.get(url).status_code == 405
