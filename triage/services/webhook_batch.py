"""Outbound webhooks in batches: one task claims many due deliveries at once, sends them side by
side and records them together.

One Celery message and four transactions per delivery (claim, send, attempt, status) capped a
worker at ~67 deliveries/s, most of it waiting on round trips. Here:
- `webhook_drain` claims up to `batch` due deliveries (SELECT id ... FOR UPDATE SKIP LOCKED on the
  partial due index, then one UPDATE that bumps `attempts` and sets the lease), so two drains never
  take the same row;
- the POSTs go out on a thread pool, on kept-alive connections, with no transaction open and no
  database access; while they are on the wire the drain claims the next batch and records the
  previous one (pipelined);
- a batch is recorded with one INSERT of attempts, one UPDATE of the delivered rows per status
  code, and for the failures their backoff with jitter and each endpoint's failing state once
  (disabled after a day, as `webhooks.webhook_deliver` does for one delivery).
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
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from triage.adapters import webhooks as wire
from triage.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
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
        # the lock and the order on the narrow delivery rows alone, through the partial index on
        # next_attempt_at: joined to the events, or ordered on a second column, Postgres sorted
        # every due row (~100 ms a claim with a few thousand due). No code leaves a pending row
        # without a time; one that has none is claimed first.
        due = WebhookDelivery.objects.select_for_update(skip_locked=True).filter(
            status=WebhookDelivery.Status.PENDING
        )
        ids = list(due.filter(next_attempt_at__isnull=True).values_list("id", flat=True)[:batch])
        if len(ids) < batch:
            ids += (
                due.filter(next_attempt_at__lte=now)
                .order_by("next_attempt_at")
                .values_list("id", flat=True)[: batch - len(ids)]
            )
        if not ids:
            return []
        lease = now + timedelta(seconds=webhooks.LEASE_S)
        WebhookDelivery.objects.filter(id__in=ids).update(attempts=F("attempts") + 1, next_attempt_at=lease)
        return list(
            WebhookDelivery.objects.select_related("event", "endpoint").filter(id__in=ids).order_by("id")
        )


def events_publish_pending(*, batch: int) -> int:
    """`webhooks.webhook_event_publish` for up to `batch` outbox events at once: their deliveries
    (due now) and `published_at` in one transaction; SKIP LOCKED, so a publish running beside it
    (the sweep) takes other rows, and a pair already made is left alone. Returns how many."""
    with transaction.atomic():
        events = list(
            WebhookEvent.objects.select_for_update(skip_locked=True)
            .filter(published_at__isnull=True)
            .order_by("created_at")
            .only("id", "event_type")[:batch]
        )
        if not events:
            return 0
        now = timezone.now()
        endpoints = list(WebhookEndpoint.objects.filter(is_active=True))
        WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(event_id=event.id, endpoint=endpoint, next_attempt_at=now)
                for event in events
                if event.event_type != webhooks.TEST_EVENT
                for endpoint in endpoints
                if not endpoint.events or event.event_type in endpoint.events
            ],
            ignore_conflicts=True,
        )
        WebhookEvent.objects.filter(id__in=[e.id for e in events]).update(published_at=now)
    return len(events)


def _attempts_insert(pairs: list[tuple[WebhookDelivery, wire.PostResult]]) -> None:
    """Each send's attempt row (status, latency, excerpt), the whole batch in one INSERT."""
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


def _record_delivered(pairs: list[tuple[WebhookDelivery, wire.PostResult]]) -> None:
    if not pairs:
        return
    now = timezone.now()
    with transaction.atomic():
        _attempts_insert(pairs)
        # one plain UPDATE per status code (nearly always just 200), not bulk_update's CASE per row
        # and column, which cost more than the POSTs themselves
        by_code: dict[int | None, list[int]] = {}
        for delivery, result in pairs:
            delivery.status = WebhookDelivery.Status.DELIVERED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
            delivery.last_status_code = result.status_code
            delivery.last_error = ""
            by_code.setdefault(result.status_code, []).append(delivery.id)
        for code, ids in by_code.items():
            WebhookDelivery.objects.filter(id__in=ids).update(
                status=WebhookDelivery.Status.DELIVERED,
                delivered_at=now,
                next_attempt_at=None,
                last_status_code=code,
                last_error="",
            )
        endpoint_ids = {d.endpoint_id for d, _ in pairs}
        WebhookEndpoint.objects.filter(id__in=endpoint_ids, failing_since__isnull=False).update(
            failing_since=None
        )


def _record_failed(pairs: list[tuple[WebhookDelivery, wire.PostResult]]) -> float | None:
    """`webhooks.webhook_deliver`'s recording for a claim's failures at once: their attempts in one INSERT,
    each delivery's backoff (jittered, so one row each), and each endpoint's failing state once
    (disabled after a day of failures; its deliveries here are then kept FAILED for "Redeliver").
    Returns the soonest short retry (seconds), or None."""
    if not pairs:
        return None
    now = timezone.now()
    with transaction.atomic():
        _attempts_insert(pairs)
        waits: dict[int, float] = {}
        failing: dict[int, list[WebhookDelivery]] = {}
        for delivery, result in pairs:
            delivery.last_status_code = result.status_code
            delivery.last_error = result.error or f"HTTP {result.status_code}"
            active = delivery.endpoint.is_active
            wait = webhooks.backoff_s(delivery.attempts) if active else None
            if wait is None:
                delivery.status = WebhookDelivery.Status.FAILED
                delivery.next_attempt_at = None
            else:
                delivery.next_attempt_at = now + timedelta(seconds=wait)
                waits[delivery.id] = wait
            if active:
                failing.setdefault(delivery.endpoint_id, []).append(delivery)
        # no lock on the endpoint row for the usual case (see webhooks._record)
        for endpoint_id, group in failing.items():
            endpoints = WebhookEndpoint.objects.filter(id=endpoint_id)
            if endpoints.filter(failing_since__isnull=True).update(failing_since=now):
                continue
            endpoint = endpoints.select_for_update().get()
            if webhooks.endpoint_failed_long_enough(endpoint, now=now):
                webhooks.endpoint_disable(
                    endpoint, reason=f"every delivery failed for a day (last: {group[-1].last_error})"
                )
                for delivery in group:
                    delivery.status = WebhookDelivery.Status.FAILED
                    delivery.next_attempt_at = None
                    waits.pop(delivery.id, None)
        WebhookDelivery.objects.bulk_update(
            [d for d, _ in pairs], ["status", "next_attempt_at", "last_status_code", "last_error"]
        )
    short = [w for w in waits.values() if w <= webhooks.COUNTDOWN_MAX_S]
    return min(short) if short else None


def _record_batch(
    rows: list[WebhookDelivery], sends: list[Future[wire.PostResult]]
) -> tuple[int, float | None]:
    """Wait for a claim's POSTs and record them. Returns (delivered, soonest short retry or None)."""
    results = [f.result() for f in sends]
    ok = [(d, r) for d, r in zip(rows, results, strict=True) if r.ok]
    _record_delivered(ok)
    retry_in = _record_failed([(d, r) for d, r in zip(rows, results, strict=True) if not r.ok])
    return len(ok), retry_in


def webhook_drain(*, batch: int = DRAIN_BATCH, max_s: float = DRAIN_MAX_S) -> dict[str, float | int]:
    """Deliver due deliveries, a batch at a time, until none is due or `max_s` has passed.

    Pipelined: a claim's POSTs go out while the next batch is claimed and the previous one is
    recorded (its rows are leased, so the next claim skips them).

    Returns {"sent", "delivered", "retry_in" (seconds until the soonest short retry, or -1),
    "more" (1 when it stopped on time with work left)}."""
    started = time.monotonic()
    sent = delivered = 0
    retry_in: float | None = None
    more = 0
    in_flight: tuple[list[WebhookDelivery], list[Future[wire.PostResult]]] | None = None

    def record(flight: tuple[list[WebhookDelivery], list[Future[wire.PostResult]]]) -> None:
        nonlocal delivered, retry_in
        ok, wait = _record_batch(*flight)
        delivered += ok
        if wait is not None:
            retry_in = wait if retry_in is None else min(retry_in, wait)

    while True:
        events_publish_pending(batch=batch)
        rows = deliveries_claim(batch=batch)
        sends = [_senders().submit(webhooks.delivery_attempt, d) for d in rows]
        sent += len(rows)
        if in_flight is not None:
            record(in_flight)
            in_flight = None
        if not rows:
            break
        in_flight = (rows, sends)
        if time.monotonic() - started >= max_s:
            record(in_flight)
            more = 1
            break
    return {
        "sent": sent,
        "delivered": delivered,
        "retry_in": -1 if retry_in is None else retry_in,
        "more": more,
    }


def deliveries_due_exist() -> bool:
    """Work for a drain: a due delivery, or an outbox event not published yet."""
    return (
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=timezone.now()))
        .exists()
    ) or WebhookEvent.objects.filter(published_at__isnull=True).exists()


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
