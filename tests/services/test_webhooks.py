from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone
from standardwebhooks import Webhook
from werkzeug import Response

from tests.factories import PROPOSAL, triaged_ticket
from tests.security.conftest import role_user
from triage.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from triage.services import webhooks
from triage.services.review import review_record, ticket_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver(httpserver, settings):
    """A local receiver that records what it got; answers from `answers` (then 200)."""
    settings.TRIAGE_WEBHOOK_ALLOW_PRIVATE_URLS = True
    got: list[tuple[dict, bytes]] = []
    answers: list[int] = []

    def handle(request):
        got.append((dict(request.headers), request.get_data()))
        return Response(
            "nope" if answers and answers[0] >= 300 else "ok", status=answers.pop(0) if answers else 200
        )

    httpserver.expect_request("/hook", method="POST").respond_with_handler(handle)
    endpoint = webhooks.webhook_endpoint_create(url=httpserver.url_for("/hook"), events=[])
    return endpoint, got, answers


def _review(ticket, user):
    return review_record(
        ticket_id=ticket.id, user=user, values={"priority": "low"}, seen_version=ticket_version(ticket=ticket)
    )


def _run_callbacks(callbacks):
    for callback in callbacks:
        callback()


def test_the_event_is_written_in_the_changes_transaction(receiver, taxonomy):
    ticket, user = triaged_ticket(), role_user("agent")
    with pytest.raises(RuntimeError), transaction.atomic():
        _review(ticket, user)
        assert WebhookEvent.objects.filter(event_type="ticket.reviewed").count() == 1
        raise RuntimeError("the change rolls back")
    assert not WebhookEvent.objects.exists(), "no event for a change that did not happen"
    _review(ticket, user)
    event = WebhookEvent.objects.get(event_type="ticket.reviewed")
    assert event.payload["data"]["ticket"]["status"] == "REVIEWED"
    assert event.payload["data"]["ticket"]["priority"] == "low"
    assert event.published_at is None


def test_no_endpoint_no_event(taxonomy):
    _review(triaged_ticket(), role_user("agent"))
    assert not WebhookEvent.objects.exists()


def test_an_endpoint_gets_only_the_events_it_asked_for(receiver, taxonomy):
    endpoint, _, _ = receiver
    endpoint.events = ["ticket.created"]
    endpoint.save()
    _review(triaged_ticket(), role_user("agent"))
    assert not WebhookEvent.objects.exists()


def test_delivery_is_signed_retried_with_the_same_id_and_logged(
    receiver, taxonomy, django_capture_on_commit_callbacks
):
    endpoint, got, answers = receiver
    answers.append(500)
    with django_capture_on_commit_callbacks(execute=False) as publish:
        _review(triaged_ticket(), role_user("agent"))
    event = WebhookEvent.objects.get()
    with django_capture_on_commit_callbacks(execute=False):
        _run_callbacks(publish)  # the publish task, as the worker would run it
        ids = webhooks.webhook_event_publish(event_id=event.id)
    assert ids == [] or len(ids) == 1
    delivery = WebhookDelivery.objects.get()
    assert webhooks.webhook_event_publish(event_id=event.id) == [], "published once"

    wait = webhooks.webhook_deliver(delivery_id=delivery.id)
    assert wait is not None and 4 <= wait <= 6, "a 500 is retried after about 5 s, with jitter"
    assert webhooks.webhook_deliver(delivery_id=delivery.id) is None, "not due yet: nothing sent"
    WebhookDelivery.objects.filter(id=delivery.id).update(next_attempt_at=timezone.now())
    webhooks.webhook_deliver(delivery_id=delivery.id)

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED and delivery.attempts == 2
    assert len(got) == 2
    (h1, b1), (h2, b2) = got
    assert h1["Webhook-Id"] == h2["Webhook-Id"] == event.msg_id
    assert b1 == b2
    payload = Webhook(endpoint.secret).verify(b2, {k.lower(): v for k, v in h2.items()})
    assert payload["type"] == "ticket.reviewed" and payload["data"]["ticket"]["id"] == event.ticket_id
    log = list(WebhookAttempt.objects.filter(delivery=delivery).order_by("number"))
    assert [(a.number, a.status_code) for a in log] == [(1, 500), (2, 200)]
    assert log[0].response_excerpt == "nope" and log[0].latency_ms >= 0
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None


def test_the_sweep_publishes_what_a_crash_left_in_the_outbox(receiver, taxonomy):
    _review(triaged_ticket(), role_user("agent"))  # on-commit publish never ran: the "crash"
    event = WebhookEvent.objects.get()
    assert webhooks.webhook_sweep()["published"] == 0, "too fresh: its own publish may still come"
    later = timezone.now() + timedelta(minutes=1)
    assert webhooks.webhook_sweep(now=later)["published"] == 1
    event.refresh_from_db()
    assert event.published_at and WebhookDelivery.objects.filter(event=event).count() == 1


def test_a_rotated_secret_signs_with_both_for_a_day(receiver, taxonomy):
    endpoint, got, _ = receiver
    old = endpoint.secret
    endpoint = webhooks.webhook_endpoint_rotate_secret(endpoint_id=endpoint.id)
    delivery = webhooks.webhook_test_send(endpoint_id=endpoint.id)
    webhooks.webhook_deliver(delivery_id=delivery.id)
    headers, body = got[-1]
    headers = {k.lower(): v for k, v in headers.items()}
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(body, headers)["type"] == "webhook.test"
    assert Webhook(endpoint.secret).verify(body, headers)
    WebhookEndpoint.objects.filter(id=endpoint.id).update(previous_secret_expires_at=timezone.now())
    delivery = webhooks.webhook_test_send(endpoint_id=endpoint.id)
    webhooks.webhook_deliver(delivery_id=delivery.id)
    assert len(got[-1][0]["Webhook-Signature"].split(" ")) == 1


def test_an_endpoint_failing_for_a_day_is_disabled_and_admins_are_emailed(receiver, taxonomy, settings):
    endpoint, _, answers = receiver
    admin = role_user("admin")
    admin.email = "admin@example.com"
    admin.save()
    answers.extend([503, 503])
    first = webhooks.webhook_test_send(endpoint_id=endpoint.id)
    webhooks.webhook_deliver(delivery_id=first.id)
    endpoint.refresh_from_db()
    assert endpoint.failing_since and endpoint.is_active
    WebhookEndpoint.objects.filter(id=endpoint.id).update(
        failing_since=timezone.now() - timedelta(days=1, minutes=1)
    )
    second = webhooks.webhook_test_send(endpoint_id=endpoint.id)
    webhooks.webhook_deliver(delivery_id=second.id)
    endpoint.refresh_from_db()
    assert not endpoint.is_active and "failed for a day" in endpoint.disabled_reason
    second.refresh_from_db()
    assert second.status == WebhookDelivery.Status.FAILED


def test_an_endpoint_failing_for_a_day_sends_the_email_on_commit(
    receiver, taxonomy, django_capture_on_commit_callbacks
):
    endpoint, _, answers = receiver
    admin = role_user("admin")
    admin.email = "admin@example.com"
    admin.save()
    answers.append(500)
    WebhookEndpoint.objects.filter(id=endpoint.id).update(failing_since=timezone.now() - timedelta(days=2))
    delivery = webhooks.webhook_test_send(endpoint_id=endpoint.id)
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.webhook_deliver(delivery_id=delivery.id)
    assert [m.to for m in mail.outbox] == [["admin@example.com"]]
    assert endpoint.url in mail.outbox[0].subject


def test_production_refuses_a_local_url_and_says_why(receiver, taxonomy, settings):
    endpoint, got, _ = receiver
    settings.TRIAGE_WEBHOOK_ALLOW_PRIVATE_URLS = False
    delivery = webhooks.webhook_test_send(endpoint_id=endpoint.id)
    webhooks.webhook_deliver(delivery_id=delivery.id)
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code is None and "loopback" in attempt.error
    assert got == []


def test_redeliver_sends_a_delivered_event_again(receiver, taxonomy):
    endpoint, got, _ = receiver
    delivery = webhooks.webhook_test_send(endpoint_id=endpoint.id)
    webhooks.webhook_deliver(delivery_id=delivery.id)
    assert webhooks.webhook_redeliver(delivery_id=delivery.id)
    webhooks.webhook_deliver(delivery_id=delivery.id)
    assert len(got) == 2 and got[0][0]["Webhook-Id"] == got[1][0]["Webhook-Id"]
    assert json.loads(got[1][1])["type"] == "webhook.test"


def test_created_triaged_and_manual_events_come_from_their_services(receiver, taxonomy):
    from triage.services.tickets import ticket_create
    from triage.services.triage import ticket_mark_manual

    ticket = ticket_create(subject="hooked", description="", requester_email="")
    assert WebhookEvent.objects.get().event_type == "ticket.created"
    ticket_mark_manual(ticket_id=ticket.id, message="gave up")
    assert WebhookEvent.objects.filter(event_type="ticket.needs_manual_triage", ticket=ticket).exists()


@pytest.mark.parametrize("mode", ["everywhere", "model"])
def test_redact_everywhere_delivers_the_ticket_with_placeholders(
    receiver, taxonomy, settings, django_capture_on_commit_callbacks, mode
):
    settings.TRIAGE_REDACT = mode
    endpoint, got, _ = receiver
    email, card = "joao.costa@example.com.br", "5555 5555 5555 4444"
    ticket = triaged_ticket(
        subject=f"Cobrança no cartão {card}",
        requester_email=email,
        result=PROPOSAL | {"summary": f"{email} foi cobrado duas vezes no cartão {card}."},
    )
    with django_capture_on_commit_callbacks(execute=False):
        _review(ticket, role_user("agent"))
    webhooks.webhook_event_publish(event_id=WebhookEvent.objects.get().id)
    delivery = WebhookDelivery.objects.get()
    webhooks.webhook_deliver(delivery_id=delivery.id)
    (headers, body), *_ = got
    sent = Webhook(endpoint.secret).verify(body, {k.lower(): v for k, v in headers.items()})["data"]["ticket"]
    stored = json.dumps(WebhookEvent.objects.get().payload, ensure_ascii=False)
    if mode == "model":  # the model's redaction leaves endpoints the ticket as it is
        assert sent["requester_email"] == email and card in sent["subject"]
        return
    for text in (body.decode(), stored):  # neither the wire nor the outbox holds the values
        assert email not in text and card not in text and card.replace(" ", "") not in text
    assert sent["requester_email"] == "[email 1]" and sent["subject"] == "Cobrança no cartão [card ••••4444]"
    assert sent["summary"] == "[email 1] foi cobrado duas vezes no cartão [card ••••4444]."
    assert sent["id"] == ticket.id and sent["status"] == "REVIEWED"
