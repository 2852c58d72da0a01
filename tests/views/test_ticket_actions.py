"""Reassign, mark as duplicate and re-run triage from the ticket page; each change in the history."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.factories import TicketFactory, UserFactory, triaged_ticket
from triage.models import Ticket, TicketEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("view_taxonomy")]


def act(client, ticket: Ticket, **data: str):
    return client.post(reverse("triage:ticket-action", args=[ticket.id]), data, follow=True)


def test_reassign_to_a_person_and_a_queue_is_recorded_with_what_it_was(agent):
    ticket = triaged_ticket()
    omar = UserFactory(username="omar", first_name="Omar")
    html = act(agent, ticket, action="assign", assignee=str(omar.id), queue="billing_team").content.decode()
    assert f"{ticket.reference} reassigned." in html
    ticket.refresh_from_db()
    assert ticket.assignee == omar and ticket.queue == "billing_team"
    event = TicketEvent.objects.get(ticket=ticket)
    assert event.before == {"assignee": "", "queue": "engineering"}
    assert event.after == {"assignee": "omar", "queue": "billing_team"}
    assert "Reassigned" in html and "engineering" in html  # in the history, with the before


def test_a_queue_outside_the_taxonomy_is_refused(agent):
    ticket = triaged_ticket()
    html = act(agent, ticket, action="assign", assignee="", queue="nowhere").content.decode()
    assert "Choose a queue from the list." in html
    assert not TicketEvent.objects.exists()


def test_mark_as_duplicate_links_the_original_and_refuses_loops(agent):
    original = TicketFactory(subject="Checkout 500")
    ticket = triaged_ticket()
    html = act(agent, ticket, action="duplicate", original=original.reference.lower()).content.decode()
    assert f"marked as a duplicate of {original.reference}" in html
    assert f'href="{reverse("triage:ticket-detail", args=[original.id])}"' in html
    ticket.refresh_from_db()
    assert ticket.duplicate_of == original
    loop = act(agent, original, action="duplicate", original=ticket.reference).content.decode()
    assert "Not marked as duplicate" in loop and "already a duplicate of it" in loop
    itself = act(agent, ticket, action="duplicate", original=ticket.reference).content.decode()
    assert "Not marked as duplicate" in itself
    assert (
        "there is no ticket TRI-0"
        in act(agent, ticket, action="duplicate", original="TRI-0").content.decode()
    )


def test_retriage_with_a_chosen_provider_and_thinking_queues_the_run(
    agent, monkeypatch, settings, django_capture_on_commit_callbacks
):
    from triage import tasks

    settings.KIMI_API_KEY = "sk-test"
    sent: list[dict] = []
    monkeypatch.setattr(tasks.ticket_triage_task, "delay", lambda **kw: sent.append(kw))
    ticket = triaged_ticket()
    with django_capture_on_commit_callbacks(execute=True):
        html = act(agent, ticket, action="retriage", provider="kimi", thinking="on").content.decode()
    assert "started again (Kimi, thinking on)" in html
    assert sent == [{"ticket_id": ticket.id, "provider": "kimi", "thinking": "on", "rerun": False}]
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.TRIAGING
    assert TicketEvent.objects.get(ticket=ticket).after == {"provider": "kimi", "thinking": "on"}


def _provider_options(html: str) -> list[tuple[str, str]]:
    select = re.search(r'<select name="provider">(.*?)</select>', html, re.S).group(1)
    return re.findall(r'<option value="(\w+)"([^>]*)>', select)


def test_without_a_kimi_key_the_rerun_offers_the_offline_model_and_refuses_kimi(
    agent, settings, django_capture_on_commit_callbacks
):
    settings.TRIAGE_PROVIDER, settings.KIMI_API_KEY = "kimi", ""
    ticket = triaged_ticket()
    page = agent.get(reverse("triage:ticket-detail", args=[ticket.id])).content.decode()
    options = dict(_provider_options(page))
    assert "disabled" in options["kimi"] and "selected" not in options["kimi"]
    assert "selected" in options["local"]
    assert "Kimi (no API key configured)" in page
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        html = act(agent, ticket, action="retriage", provider="kimi", thinking="on").content.decode()
    assert "Triage not started: Kimi has no API key here (KIMI_API_KEY)" in html
    assert not callbacks and not TicketEvent.objects.filter(ticket=ticket).exists()
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.NEEDS_REVIEW
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        html = act(agent, ticket, action="retriage", provider="local", thinking="auto").content.decode()
    assert "started again (offline model)" in html and len(callbacks) == 1


def test_the_rerun_preselects_the_configured_provider(agent, settings):
    ticket = triaged_ticket()
    settings.TRIAGE_PROVIDER, settings.KIMI_API_KEY = "kimi", "sk-test"
    page = agent.get(reverse("triage:ticket-detail", args=[ticket.id])).content.decode()
    assert _provider_options(page) == [("kimi", " selected"), ("local", "")]
    settings.TRIAGE_PROVIDER = "local"
    page = agent.get(reverse("triage:ticket-detail", args=[ticket.id])).content.decode()
    assert _provider_options(page) == [("kimi", ""), ("local", " selected")]


def test_retriage_of_a_reviewed_ticket_keeps_its_values(agent, taxonomy):
    from triage.services import triage

    ticket = triaged_ticket()
    Ticket.objects.filter(id=ticket.id).update(status=Ticket.Status.REVIEWED, category="billing")
    triage.ticket_triage(ticket_id=ticket.id, provider="local", rerun=True)
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.REVIEWED and ticket.category == "billing"
    assert ticket.runs.count() == 2  # the new run is recorded all the same


def test_an_agent_sets_a_reviewed_ticket_pending_from_the_ticket_page(agent):
    ticket = TicketFactory(status=Ticket.Status.REVIEWED)
    page = agent.get(f"/tickets/{ticket.id}/").content.decode()
    assert 'id="status-form"' in page and '<option value="PENDING">Pending</option>' in page
    response = agent.post(
        f"/tickets/{ticket.id}/actions/", {"action": "status", "status": "PENDING"}, follow=True
    )
    assert f"{ticket.reference} is now Pending." in response.content.decode()
    assert Ticket.objects.get(id=ticket.id).status == Ticket.Status.PENDING
    assert TicketEvent.objects.get(ticket=ticket).kind == TicketEvent.Kind.STATUS
    refused = agent.post(
        f"/tickets/{ticket.id}/actions/", {"action": "status", "status": "CLOSED"}, follow=True
    )
    assert "Status not changed" in refused.content.decode()
    assert Ticket.objects.get(id=ticket.id).status == Ticket.Status.PENDING
