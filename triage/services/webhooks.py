"""Outbound webhooks: the outbox, deliveries with backoff, endpoint health.

1. A service that changes a ticket calls `webhook_event_record` inside its own transaction: the
   event row (with the ticket as the API shows it) commits with the change or not at all.
2. On commit its task asks for a drain (`webhook_batch`), which publishes every waiting outbox row
   in batches (one delivery row per subscribed endpoint, due now) and sends them; a crash before
   that leaves `published_at` empty, and the sweep publishes it (`webhook_event_publish`).
3. `webhook_batch.webhook_drain` claims due deliveries in batches (a short transaction, a lease in
   `next_attempt_at`), POSTs them side by side with no transaction open, then records the attempts
   (`webhook_deliver` does the same for one: Redeliver, Send test event). Failures back off exponentially with
   jitter for about a day; the `webhook-id` is the event's, so a receiver drops repeats.
An endpoint failing for a day is disabled and the administrators are emailed.
"""

from __future__ import annotations

import json
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from triage.adapters import webhooks as wire
from triage.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from triage.services.redaction import TicketRedaction, redact_data, redact_mode

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EventType:
    name: str
    description: str


# Declared once: the admin's choices, the docs and the payloads all read this list.
EVENT_TYPES = (
    EventType("ticket.created", "A ticket was created (web form, API)."),
    EventType("ticket.triaged", "A model proposed the ticket's fields; it waits for review."),
    EventType("ticket.needs_manual_triage", "No usable proposal: a person must triage it."),
    EventType("ticket.reviewed", "A person (or auto-accept) accepted or corrected the ticket."),
    EventType("ticket.reopened", "A resolved ticket was reopened."),
    EventType("ticket.handed_off", "The ticket was sent to an outside tool."),
)
EVENT_NAMES = frozenset(e.name for e in EVENT_TYPES)
TEST_EVENT = "webhook.test"

# Standard Webhooks' suggested schedule after the first try: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
# 10 h (about 28 h in all), each with +/-20 % jitter so retries of many events do not arrive at once.
RETRY_SCHEDULE_S = (5, 300, 1800, 7200, 18000, 36000, 36000)
# retries shorter than this wait in the broker (task countdown); longer ones for the sweep
COUNTDOWN_MAX_S = 60
# a claimed delivery is not claimed again for this long (the POST's time limit, with margin)
LEASE_S = 120
DISABLE_AFTER = timedelta(days=1)
SECRET_OVERLAP = timedelta(hours=24)


def _allow_private() -> bool:
    return settings.TRIAGE_WEBHOOK_ALLOW_PRIVATE_URLS


def _timeouts() -> tuple[float, float]:
    return settings.TRIAGE_WEBHOOK_CONNECT_TIMEOUT_S, settings.TRIAGE_WEBHOOK_READ_TIMEOUT_S


def _subscribed_endpoints(event_type: str) -> list[WebhookEndpoint]:
    # `events` empty: every event. Filtered here, not in SQL: a few endpoints, and SQLite has no
    # JSON containment
    return [
        e for e in WebhookEndpoint.objects.filter(is_active=True) if not e.events or event_type in e.events
    ]


def webhook_event_record(*, event_type: str, ticket_id: int) -> WebhookEvent | None:
    """Write the event to the outbox, in the caller's transaction. None when no active endpoint
    takes this event (nothing to deliver; the ticket's own history keeps the change)."""
    from triage import selectors
    from triage.schemas import ticket_representation
    from triage.tasks import webhook_event_publish_task

    assert event_type in EVENT_NAMES, event_type  # noqa: S101 - a typo here is a bug, not input
    if not _subscribed_endpoints(event_type):
        return None
    ticket = selectors.ticket_get_for_review(ticket_id=ticket_id)
    now = timezone.now()
    data = ticket_representation(ticket).model_dump(mode="json")
    if redact_mode() == "everywhere":  # the outbox keeps, and endpoints get, the redacted text
        data = redact_data(data, TicketRedaction(language=ticket.language))
    payload = {"type": event_type, "timestamp": now.isoformat(), "data": {"ticket": data}}
    event = WebhookEvent.objects.create(
        msg_id=f"msg_{uuid.uuid4().hex}", event_type=event_type, ticket_id=ticket_id, payload=payload
    )
    webhook_event_publish_task.delay_on_commit(event_id=event.id)
    return event


def webhook_event_publish(*, event_id: int) -> list[int]:
    """Create the event's deliveries (once), due now. Returns their ids (the caller sends them)."""
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update(skip_locked=True).filter(id=event_id).first()
        if event is None or event.published_at is not None:
            return []
        endpoints = [] if event.event_type == TEST_EVENT else _subscribed_endpoints(event.event_type)
        now = timezone.now()
        WebhookDelivery.objects.bulk_create(
            [WebhookDelivery(event=event, endpoint=e, next_attempt_at=now) for e in endpoints],
            ignore_conflicts=True,
        )
        event.published_at = now
        event.save(update_fields=["published_at"])
        ids = list(
            WebhookDelivery.objects.filter(event=event, status=WebhookDelivery.Status.PENDING).values_list(
                "id", flat=True
            )
        )
    # the publish task drains them right after this commit (webhook_batch), with whatever else is due
    return ids


def backoff_s(attempts: int) -> float | None:
    """Seconds before the next try after `attempts` tries; None: give up."""
    if attempts > len(RETRY_SCHEDULE_S):
        return None
    base = RETRY_SCHEDULE_S[attempts - 1]
    return base * random.uniform(0.8, 1.2)


def _body(event: WebhookEvent) -> bytes:
    payload = event.payload
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def _secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    found = [endpoint.secret]
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_expires_at
        and endpoint.previous_secret_expires_at > now
    ):
        found.append(endpoint.previous_secret)
    return found


def _claim(delivery_id: int) -> WebhookDelivery | None:
    with transaction.atomic():
        now = timezone.now()
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("event", "endpoint")
            .filter(id=delivery_id, status=WebhookDelivery.Status.PENDING)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .first()
        )
        if delivery is None:
            return None
        delivery.attempts += 1
        delivery.next_attempt_at = now + timedelta(seconds=LEASE_S)  # the lease: no second sender
        delivery.save(update_fields=["attempts", "next_attempt_at"])
        return delivery


def webhook_deliver(*, delivery_id: int) -> float | None:
    """One attempt of a due delivery. Returns seconds to wait before the task should try again
    (short waits only; long ones are the sweep's), or None."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return None
    return _record(delivery=delivery, result=delivery_attempt(delivery))


def delivery_attempt(delivery: WebhookDelivery) -> wire.PostResult:
    """POST a claimed delivery once (its event and endpoint already loaded: no query here, so
    webhook_batch runs it on a thread pool)."""
    endpoint = delivery.endpoint
    event = delivery.event
    now = timezone.now()
    if not endpoint.is_active:
        result = wire.PostResult(status_code=None, latency_ms=0, excerpt="", error="endpoint disabled")
    else:
        body = _body(event)
        headers = wire.signed_headers(
            secrets_=_secrets(endpoint, now), msg_id=event.msg_id, timestamp=int(now.timestamp()), body=body
        )
        try:
            target = wire.target_resolve(endpoint.url, allow_private=_allow_private())
        except wire.AddressRefused as exc:
            result = wire.PostResult(
                status_code=None, latency_ms=0, excerpt="", error=f"refused: {exc}"[:300]
            )
        else:
            connect_s, read_s = _timeouts()
            result = wire.post(
                target, headers=headers, body=body, connect_timeout_s=connect_s, read_timeout_s=read_s
            )
    return result


@transaction.atomic
def _record(*, delivery: WebhookDelivery, result: wire.PostResult) -> float | None:
    now = timezone.now()
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=delivery.attempts,
        status_code=result.status_code,
        latency_ms=result.latency_ms,
        response_excerpt=result.excerpt,
        error=result.error,
    )
    # no lock on the endpoint row: every delivery to it would wait for the others' transactions.
    # Its failure state changes by conditional UPDATEs; only disabling it reads and locks it.
    endpoints = WebhookEndpoint.objects.filter(id=delivery.endpoint_id)
    delivery.last_status_code = result.status_code
    delivery.last_error = result.error or ("" if result.ok else f"HTTP {result.status_code}")
    if result.ok:
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        delivery.save()
        endpoints.filter(failing_since__isnull=False).update(failing_since=None)
        return None
    active = delivery.endpoint.is_active
    wait = backoff_s(delivery.attempts) if active else None
    if wait is None:
        delivery.status = WebhookDelivery.Status.FAILED
        delivery.next_attempt_at = None
    else:
        delivery.next_attempt_at = now + timedelta(seconds=wait)
    delivery.save()
    if active and not endpoints.filter(failing_since__isnull=True).update(failing_since=now):
        endpoint = endpoints.select_for_update().get()
        if endpoint_failed_long_enough(endpoint, now=now):
            endpoint_disable(
                endpoint, reason=f"every delivery failed for a day (last: {delivery.last_error})"
            )
            # kept for "Redeliver" once the receiver is fixed and the endpoint enabled again
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.next_attempt_at = None
            delivery.save(update_fields=["status", "next_attempt_at"])
            return None
    return wait if wait is not None and wait <= COUNTDOWN_MAX_S else None


def endpoint_failed_long_enough(endpoint: WebhookEndpoint, *, now: datetime) -> bool:
    """An active endpoint whose every delivery has failed for DISABLE_AFTER (its row locked)."""
    return bool(
        endpoint.is_active and endpoint.failing_since and now - endpoint.failing_since >= DISABLE_AFTER
    )


def endpoint_disable(endpoint: WebhookEndpoint, *, reason: str) -> None:
    endpoint.is_active = False
    endpoint.disabled_reason = reason[:300]
    endpoint.save(update_fields=["is_active", "disabled_reason"])
    admins = list(
        get_user_model()
        .objects.filter(is_superuser=True, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if admins:
        transaction.on_commit(
            lambda: send_mail(
                subject=f"Webhook endpoint disabled: {endpoint.url}",
                message=(
                    f"Triage stopped sending webhooks to {endpoint.url}: {reason}.\n"
                    "Fix the receiver, then re-enable the endpoint in the admin and redeliver "
                    "the failed deliveries from its delivery log."
                ),
                from_email=None,
                recipient_list=admins,
                fail_silently=True,
            )
        )
    logger.warning("webhook endpoint %s disabled: %s", endpoint.id, reason)


def webhook_redeliver(*, delivery_id: int) -> bool:
    """Try a delivery again now, whatever its state (the admin's "Redeliver")."""
    from triage.tasks import webhook_deliver_task

    with transaction.atomic():
        changed = WebhookDelivery.objects.filter(id=delivery_id).update(
            status=WebhookDelivery.Status.PENDING, next_attempt_at=timezone.now()
        )
        if changed:
            webhook_deliver_task.delay_on_commit(delivery_id=delivery_id)
    return bool(changed)


@transaction.atomic
def webhook_test_send(*, endpoint_id: int) -> WebhookDelivery:
    """A `webhook.test` event to one endpoint (the admin's "Send test event")."""
    from triage.tasks import webhook_deliver_task

    endpoint = WebhookEndpoint.objects.get(id=endpoint_id)
    now = timezone.now()
    event = WebhookEvent.objects.create(
        msg_id=f"msg_{uuid.uuid4().hex}",
        event_type=TEST_EVENT,
        payload={"type": TEST_EVENT, "timestamp": now.isoformat(), "data": {"endpoint": endpoint.url}},
        published_at=now,
    )
    delivery = WebhookDelivery.objects.create(event=event, endpoint=endpoint, next_attempt_at=now)
    webhook_deliver_task.delay_on_commit(delivery_id=delivery.id)
    return delivery


@transaction.atomic
def webhook_endpoint_create(*, url: str, events: list[str], description: str = "") -> WebhookEndpoint:
    unknown = set(events) - EVENT_NAMES
    if unknown:
        raise ValueError(f"unknown event types: {', '.join(sorted(unknown))}")
    return WebhookEndpoint.objects.create(
        url=url, events=events, description=description, secret=wire.secret_new()
    )


@transaction.atomic
def webhook_endpoint_rotate_secret(*, endpoint_id: int) -> WebhookEndpoint:
    """A new secret; the old one keeps signing (alongside) for 24 h so receivers can switch."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(id=endpoint_id)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = timezone.now() + SECRET_OVERLAP
    endpoint.secret = wire.secret_new()
    endpoint.save(update_fields=["previous_secret", "previous_secret_expires_at", "secret"])
    return endpoint


def webhook_sweep(*, now: datetime | None = None, batch: int = 1000) -> dict[str, int]:
    """Publish outbox rows a crash left unpublished, and queue deliveries whose retry is due."""
    from triage.tasks import webhook_drain_task

    now = now or timezone.now()
    stale = now - timedelta(seconds=30)
    unpublished = list(
        WebhookEvent.objects.filter(published_at__isnull=True, created_at__lt=stale)
        .order_by("created_at")
        .values_list("id", flat=True)[:batch]
    )
    for event_id in unpublished:
        webhook_event_publish(event_id=event_id)  # their deliveries are due: the drain below sends them
    due = list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:batch]
    )
    if due or unpublished:
        webhook_drain_task.delay()  # due retries and leases a killed drain left: sent in batches
    return {"published": len(unpublished), "queued": len(due)}
