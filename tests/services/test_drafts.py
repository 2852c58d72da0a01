"""Drafted replies: Kimi (fake server, real SDK) within the ticket's budget, or the best macro."""

from __future__ import annotations

import pytest

from tests.factories import TicketFactory, UserFactory
from triage.models import Macro, OutboundEmail, Ticket, TriageRun
from triage.services.drafts import reply_draft

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(db) -> Ticket:
    return TicketFactory(
        status=Ticket.Status.REVIEWED,
        subject="No puedo pagar con tarjeta",
        description="El pago con tarjeta falla con error 500 al final del checkout.",
        requester_email="maria@example.com",
        language="es",
        category="billing",
        summary="Card payment fails with error 500 at checkout.",
    )


@pytest.fixture
def macros(db) -> None:
    Macro.objects.create(
        name="Password reset", body="Hi {{ requester.first_name }}, reset your password here."
    )
    Macro.objects.create(
        name="Card payment error",
        body="Hi {{ requester.first_name }}, the card payment error 500 at checkout is fixed. {{ agent.name }}",
    )


def test_the_offline_provider_offers_the_best_matching_macro(settings, ticket, macros):
    settings.TRIAGE_PROVIDER = "local"
    draft = reply_draft(ticket_id=ticket.id, agent=UserFactory(first_name="Ann", last_name="Lee"))
    assert draft.source == "macro" and "Card payment error" in draft.note
    assert draft.text == "Hi Maria, the card payment error 500 at checkout is fixed. Ann Lee"
    assert not OutboundEmail.objects.exists()


@pytest.fixture
def kimi(settings, kimi_fake):
    settings.TRIAGE_PROVIDER = "kimi"
    settings.KIMI_API_KEY = "sk-test"
    settings.KIMI_BASE_URL = kimi_fake.base_url
    settings.KIMI_MAX_RETRIES = 1
    settings.KIMI_TIMEOUT_S = 2.0
    return kimi_fake


def test_kimi_drafts_in_the_customers_language_with_thinking_off_and_the_run_is_recorded(kimi, ticket):
    kimi.reply_json(
        "Hola Maria, ya hemos corregido el error del pago con tarjeta.",
        usage={"prompt_tokens": 700, "completion_tokens": 40},
    )
    draft = reply_draft(ticket_id=ticket.id, agent=UserFactory())
    assert draft.source == "kimi" and draft.text.startswith("Hola Maria")
    sent = kimi.requests[-1]
    assert sent["thinking"] == {"type": "disabled"}
    assert "(es)" in sent["messages"][0]["content"]
    assert "error 500" in sent["messages"][1]["content"] and "billing" in sent["messages"][1]["content"]
    run = TriageRun.objects.get(ticket=ticket)
    assert run.details["purpose"] == "draft" and run.status == TriageRun.Status.DONE
    assert (run.prompt_tokens, run.completion_tokens) == (700, 40) and run.cost_usd > 0
    assert Ticket.objects.get(id=ticket.id).latest_run_id != run.id  # a draft is not a triage
    assert not OutboundEmail.objects.exists()  # never sent by itself


def test_a_ticket_out_of_budget_gets_the_macro_and_kimi_is_not_asked(settings, kimi, ticket, macros):
    settings.KIMI_TICKET_TOKEN_BUDGET = 5000
    TriageRun.objects.create(ticket=ticket, provider="kimi", model="kimi-k2.6", prompt_tokens=4900)
    draft = reply_draft(ticket_id=ticket.id, agent=UserFactory())
    assert draft.source == "macro" and "tokens left" in draft.note
    assert kimi.requests == []


def test_the_composer_gets_the_draft_and_nothing_is_sent(client, settings, ticket, macros):
    settings.TRIAGE_PROVIDER = "local"
    client.force_login(UserFactory())
    html = client.post(f"/tickets/{ticket.id}/draft/", headers={"HX-Request": "true"}).content.decode()
    assert html.startswith('<textarea name="body" id="reply-body"') and "card payment error 500" in html
    assert not OutboundEmail.objects.exists()


def test_with_redaction_kimi_sees_placeholders_and_the_agent_gets_the_values_back(settings, kimi, ticket):
    settings.TRIAGE_REDACT = "model"
    ticket.description += " Mi tarjeta es 4242 4242 4242 4242, escriban a maria.lopez@example.com."
    ticket.save()
    kimi.reply_json(
        "Hola, hemos bloqueado la tarjeta [card ••••4242] y escribimos a [email 1].",
        usage={"prompt_tokens": 700, "completion_tokens": 40},
    )
    draft = reply_draft(ticket_id=ticket.id, agent=UserFactory())
    sent = str(kimi.requests[-1]["messages"])
    assert "4242 4242 4242 4242" not in sent and "maria.lopez@example.com" not in sent
    assert "[card ••••4242]" in sent and "[email 1]" in sent
    assert draft.text == (
        "Hola, hemos bloqueado la tarjeta 4242 4242 4242 4242 y escribimos a maria.lopez@example.com."
    )
