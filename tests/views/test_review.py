from __future__ import annotations

import pytest
from django.urls import reverse

from tests.declared import DECLARED_GUESSES
from tests.factories import PROPOSAL, UserFactory, failed_ticket, triaged_ticket
from triage.models import ReviewDecision, TaxonomyValue, Ticket

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("view_taxonomy")]
PROPOSED = {
    "category": "bug",
    "priority": "high",
    "queue": "engineering",
    "sentiment": "negative",
    "language": "en",
    "summary": PROPOSAL["summary"],
    **{name: guess["value"] for name, guess in DECLARED_GUESSES.items()},
}


@pytest.fixture
def reviewer():
    return UserFactory(username="rita")


@pytest.fixture
def agent(client, reviewer):
    client.force_login(reviewer)
    return client


def review(client, ticket: Ticket, action: str, **changes: str):
    return client.post(
        reverse("triage:ticket-detail", args=[ticket.id]), {**PROPOSED, **changes, "action": action}
    )


def test_the_review_form_is_prefilled_with_taxonomy_choices(agent):
    ticket = triaged_ticket()
    html = agent.get(reverse("triage:ticket-detail", args=[ticket.id])).content.decode()
    assert '<select name="category"' in html
    assert '<option value="bug" selected>Bug / error</option>' in html
    assert '<option value="billing">Billing &amp; payments</option>' in html
    assert '<option value="engineering" selected>Engineering</option>' in html
    assert 'name="language" value="en"' in html
    assert PROPOSAL["summary"] in html
    assert 'name="action" value="accept"' in html and 'name="action" value="save"' in html
    assert "Proposed: Bug / error · 92%" in html


def test_accept_records_an_accept_and_marks_the_ticket_reviewed(agent, reviewer):
    ticket = triaged_ticket()
    response = review(agent, ticket, "accept")
    assert response.status_code == 302 and response.url == reverse("triage:review-queue")

    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.REVIEWED
    assert ticket.reviewed_by == reviewer and ticket.reviewed_at is not None
    decision = ReviewDecision.objects.get(ticket=ticket)
    assert decision.action == ReviewDecision.Action.ACCEPT and decision.user == reviewer
    assert decision.before == PROPOSED and decision.after == PROPOSED
    assert decision.run_id == ticket.latest_run_id

    queue = agent.get(response.url).content.decode()
    assert f"{ticket.reference} accepted as proposed." in queue
    assert "badge-reviewed" in queue


def test_accept_takes_the_proposal_as_it_is_even_if_fields_were_edited(agent):
    ticket = triaged_ticket()
    review(agent, ticket, "accept", category="billing")
    ticket.refresh_from_db()
    assert ticket.category == "bug"
    assert ReviewDecision.objects.get().action == ReviewDecision.Action.ACCEPT


def test_save_and_accept_records_a_correction_with_before_and_after(agent):
    ticket = triaged_ticket()
    response = review(agent, ticket, "save", category="billing", priority="urgent", summary="Refund needed.")
    assert response.status_code == 302

    ticket.refresh_from_db()
    assert (ticket.category, ticket.priority, ticket.queue) == ("billing", "urgent", "engineering")
    assert ticket.summary == "Refund needed." and ticket.status == Ticket.Status.REVIEWED
    decision = ReviewDecision.objects.get()
    assert decision.action == ReviewDecision.Action.CORRECT
    assert decision.before["category"] == "bug" and decision.after["category"] == "billing"
    assert decision.before["priority"] == "high" and decision.after["priority"] == "urgent"
    assert decision.after["queue"] == decision.before["queue"] == "engineering"

    queue = agent.get(response.url).content.decode()
    assert f"{ticket.reference} reviewed: corrected category, priority, summary." in queue
    assert "Billing &amp; payments" in queue

    history = agent.get(reverse("triage:ticket-detail", args=[ticket.id])).content.decode()
    assert 'Bug / error</span> → <span class="after">Billing &amp; payments' in history


def test_saving_unchanged_values_is_an_accept(agent):
    ticket = triaged_ticket()
    review(agent, ticket, "save")
    assert ReviewDecision.objects.get(ticket=ticket).action == ReviewDecision.Action.ACCEPT


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("category", "nonsense", "Select a valid choice. nonsense is not one of the available choices."),
        ("queue", "", "This field is required."),
        ("language", "english!", "Use a language code such as en, de or pt-br."),
    ],
)
def test_invalid_values_are_form_errors_and_change_nothing(agent, field, value, message):
    ticket = triaged_ticket()
    response = review(agent, ticket, "save", **{field: value})
    assert response.status_code == 200
    assert message in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.NEEDS_REVIEW
    assert not ReviewDecision.objects.exists()


def test_an_inactive_value_is_not_offered_to_other_tickets(agent):
    TaxonomyValue.objects.filter(field="category", value="how_to").update(is_active=False)
    ticket = triaged_ticket()
    response = review(agent, ticket, "save", category="how_to")
    assert response.status_code == 200 and not ReviewDecision.objects.exists()


def test_a_ticket_keeps_its_value_after_an_admin_deactivates_it(agent):
    ticket = triaged_ticket()
    TaxonomyValue.objects.filter(field="category", value="bug").update(is_active=False)
    html = agent.get(reverse("triage:ticket-detail", args=[ticket.id])).content.decode()
    assert '<option value="bug" selected>Bug / error (inactive)</option>' in html
    assert review(agent, ticket, "save").status_code == 302


def test_a_manual_ticket_cannot_be_accepted_but_can_be_triaged_by_hand(agent):
    ticket = failed_ticket()
    refused = review(agent, ticket, "accept")
    assert refused.status_code == 200
    assert "There is no model proposal to accept" in refused.content.decode()
    assert not ReviewDecision.objects.exists()

    done = review(agent, ticket, "save", category="how_to", summary="Asks how to export.")
    assert done.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.REVIEWED and ticket.category == "how_to"
    decision = ReviewDecision.objects.get()
    assert decision.action == ReviewDecision.Action.CORRECT
    assert decision.before["category"] == "" and decision.after["category"] == "how_to"


def _seen(client, ticket: Ticket) -> str:
    import re

    html = client.get(reverse("triage:ticket-detail", args=[ticket.id])).content.decode()
    return re.search(r'name="seen" value="([^"]+)"', html).group(1)


def test_the_second_of_two_reviewers_sees_what_the_first_did_and_nothing_is_overwritten(client, reviewer):
    from django.test import Client

    ticket = triaged_ticket()
    rita, omar = client, Client()
    rita.force_login(reviewer)
    omar.force_login(UserFactory(username="omar", first_name="Omar", last_name="Haddad"))
    rita_saw, omar_saw = _seen(rita, ticket), _seen(omar, ticket)  # both open the page

    first = omar.post(
        reverse("triage:ticket-detail", args=[ticket.id]),
        {**PROPOSED, "category": "billing", "action": "save", "seen": omar_saw},
    )
    assert first.status_code == 302
    second = rita.post(
        reverse("triage:ticket-detail", args=[ticket.id]),
        # the form carries what it showed (orig_*): her one change is what differs from it
        {
            **PROPOSED,
            **{f"orig_{k}": v for k, v in PROPOSED.items()},
            "priority": "low",
            "action": "save",
            "seen": rita_saw,
        },
    )
    assert second.status_code == 200  # not saved: shown what changed
    html = second.content.decode()
    assert "This ticket changed while you were reviewing it" in html
    assert "Omar Haddad corrected and accepted (category bug → billing" in html
    assert '<option value="low" selected>' in html  # her own change is still in the form
    assert '<option value="billing" selected>' in html  # and his, not her stale "bug"
    ticket.refresh_from_db()
    assert ticket.category == "billing" and ticket.priority == "high"  # Omar's save stands
    assert ReviewDecision.objects.filter(ticket=ticket).count() == 1

    # she decides to save hers: the page carried the new version, so this time it goes through
    third = rita.post(
        reverse("triage:ticket-detail", args=[ticket.id]),
        {**PROPOSED, "priority": "low", "action": "save", "seen": _seen(rita, ticket)},
    )
    assert third.status_code == 302
    ticket.refresh_from_db()
    assert ticket.priority == "low" and ReviewDecision.objects.filter(ticket=ticket).count() == 2


def test_a_model_run_finishing_meanwhile_is_a_change_too(agent):
    from tests.factories import TriageRunFactory

    ticket = triaged_ticket()
    seen = _seen(agent, ticket)
    from django.utils import timezone

    run = TriageRunFactory(ticket=ticket, provider="kimi", finished_at=timezone.now())
    ticket.latest_run = run
    ticket.save()
    response = agent.post(
        reverse("triage:ticket-detail", args=[ticket.id]), {**PROPOSED, "action": "accept", "seen": seen}
    )
    assert response.status_code == 200 and "a kimi model run finished" in response.content.decode()
