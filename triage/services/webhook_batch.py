"""Outbound webhooks in batches: one task claims many due deliveries at once, sends them side by
side and records them together.

One Celery message and four transactions per delivery (claim, send, attempt, status) capped a
worker at ~67 deliveries/s, most of it waiting on round trips. Here:
- `webhook_drain` claims up to `batch` due deliveries in one statement (SELECT ... FOR UPDATE SKIP
  LOCKED, then one UPDATE that bumps `attempts` and sets the lease), so two drains never take the
  same row;
- the POSTs go out on a thread pool, with no transaction open and no database access;
- the 2xx answers are recorded with one INSERT of attempts and one UPDATE of deliveries; the
  failures go through the one-by-one `_record` (backoff with jitter, the endpoint's failing state,
  disabling after a day), which is rare and must stay exact.
At least once: a drain killed after the claim leaves the rows PENDING with their lease, and the
sweep hands them to a drain when the lease ends; the `webhook-id` is the event's, as before.

One drain at a time (`webhook_drain_if_free`): every publish asks for a drain, and a drain per
publish would run side by side in small claims (or, queued, leave live events waiting behind
hundreds of drains with nothing left to send). The first caller takes a shared slot (one atomic
counter: Redis, else the database) and drains until nothing is due; the others return at once.
The holder releases the slot and then looks again: a delivery committed before a refused caller
asked was committed before that release, so the holder sees it and drains again.
"""

from __future__ import annotations

import functools
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from triage.adapters import webhooks as wire
from triage.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from triage.services import throttle, webhooks

DRAIN_BATCH = 100
SEND_THREADS = 16
# a drain gives its worker thread back after this long (the task queues the next one)
DRAIN_MAX_S = 30.0
# the shared slot a running drain holds; a holder that dies frees it after the lease
DRAIN_SLOT_KEY = "webhook-drain"


@functools.cache
def _senders() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=SEND_THREADS, thread_name_prefix="webhook-send")


def deliveries_claim(*, batch: int) -> list[WebhookDelivery]:
    """Up to `batch` due deliveries, leased to the caller (attempts already counted)."""
    with transaction.atomic():
        now = timezone.now()
        rows = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("event", "endpoint")
            .filter(status=WebhookDelivery.Status.PENDING)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .order_by("next_attempt_at", "id")[:batch]
        )
        if not rows:
            return []
        lease = now + timedelta(seconds=webhooks.LEASE_S)
        WebhookDelivery.objects.filter(id__in=[r.id for r in rows]).update(
            attempts=F("attempts") + 1, next_attempt_at=lease
        )
        for row in rows:
            row.attempts += 1
            row.next_attempt_at = lease
        return rows


def _record_delivered(pairs: list[tuple[WebhookDelivery, wire.PostResult]]) -> None:
    if not pairs:
        return
    now = timezone.now()
    with transaction.atomic():
        WebhookAttempt.objects.bulk_create(
            [
                WebhookAttempt(
                    delivery=d,
                    number=d.attempts,
                    status_code=r.status_code,
                    latency_ms=r.latency_ms,
                    response_excerpt=r.excerpt,
                    error=r.error,
                )
                for d, r in pairs
            ]
        )
        for delivery, result in pairs:
            delivery.status = WebhookDelivery.Status.DELIVERED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
            delivery.last_status_code = result.status_code
            delivery.last_error = ""
        WebhookDelivery.objects.bulk_update(
            [d for d, _ in pairs],
            ["status", "delivered_at", "next_attempt_at", "last_status_code", "last_error"],
        )
        endpoint_ids = {d.endpoint_id for d, _ in pairs}
        WebhookEndpoint.objects.filter(id__in=endpoint_ids, failing_since__isnull=False).update(
            failing_since=None
        )


def webhook_drain(*, batch: int = DRAIN_BATCH, max_s: float = DRAIN_MAX_S) -> dict[str, float | int]:
    """Deliver due deliveries, a batch at a time, until none is due or `max_s` has passed.

    Returns {"sent", "delivered", "retry_in" (seconds until the soonest short retry, or -1),
    "more" (1 when it stopped on time with work left)}."""
    started = time.monotonic()
    sent = delivered = 0
    retry_in: float | None = None
    more = 0
    while True:
        rows = deliveries_claim(batch=batch)
        if not rows:
            break
        results = list(_senders().map(webhooks.delivery_attempt, rows))
        ok = [(d, r) for d, r in zip(rows, results, strict=True) if r.ok]
        _record_delivered(ok)
        for delivery, result in zip(rows, results, strict=True):
            if not result.ok:
                wait = webhooks.delivery_record(delivery=delivery, result=result)
                if wait is not None:
                    retry_in = wait if retry_in is None else min(retry_in, wait)
        sent += len(rows)
        delivered += len(ok)
        if time.monotonic() - started >= max_s:
            more = 1
            break
    return {
        "sent": sent,
        "delivered": delivered,
        "retry_in": -1 if retry_in is None else retry_in,
        "more": more,
    }


def deliveries_due_exist() -> bool:
    return (
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=timezone.now()))
        .exists()
    )


def deliveries_next_retry_in(*, within_s: float) -> float:
    """Seconds until the soonest pending delivery is due, if within `within_s` (leased rows, due
    after the lease, are past it); -1 when none is."""
    now = timezone.now()
    soonest = (
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING,
            next_attempt_at__gt=now,
            next_attempt_at__lte=now + timedelta(seconds=within_s),
        )
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    return -1 if soonest is None else (soonest - now).total_seconds()


def webhook_drain_if_free(*, batch: int = DRAIN_BATCH, max_s: float = DRAIN_MAX_S) -> dict[str, float | int]:
    """`webhook_drain`, unless another drain holds the slot (that one sends what is due now: it
    looks again after releasing). Same result; all zeros (and "retry_in" -1) when it did not run."""
    started = time.monotonic()
    total: dict[str, float | int] = {"sent": 0, "delivered": 0, "retry_in": -1, "more": 0}
    ran = False
    while throttle.lock_take(key=DRAIN_SLOT_KEY, lease_s=webhooks.LEASE_S):
        ran = True
        try:
            done = webhook_drain(batch=batch, max_s=max(0.0, max_s - (time.monotonic() - started)))
        finally:
            throttle.lock_release(key=DRAIN_SLOT_KEY)
        total["sent"] += done["sent"]
        total["delivered"] += done["delivered"]
        if done["more"]:
            total["more"] = 1
            break
        if not deliveries_due_exist():
            break  # nothing was committed between the last claim and the release
        if time.monotonic() - started >= max_s:
            total["more"] = 1  # due work and no time left: the caller queues a drain
            break
    if ran:
        # every short retry pending, not only this run's failures: one drain follows the next,
        # so a retry due just after a drain's run is not left for the sweep
        total["retry_in"] = deliveries_next_retry_in(within_s=webhooks.COUNTDOWN_MAX_S)
    return total
