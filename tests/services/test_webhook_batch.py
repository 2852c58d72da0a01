"""Batched webhook delivery: a drain claims many due deliveries at once, sends them side by side
and records them; a failure is retried with the same webhook-id; a drain that dies after its claim
loses nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from werkzeug import Response

from tests.factories import triaged_ticket
from tests.security.conftest import role_user
from triage.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from triage.services import webhook_batch, webhooks
from triage.services.review import review_record, ticket_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver(httpserver, settings):
    """A local receiver; answers 500 to the webhook-ids in `fail_once` the first time."""
    settings.TRIAGE_WEBHOOK_ALLOW_PRIVATE_URLS = True
    got: list[str] = []
    fail_once: set[str] = set()

    def handle(request):
        msg_id = request.headers["webhook-id"]
        got.append(msg_id)
        if msg_id in fail_once:
            fail_once.discard(msg_id)
            return Response("busy", status=500)
        return Response("ok")

    httpserver.expect_request("/hook", method="POST").respond_with_handler(handle)
    webhooks.webhook_endpoint_create(url=httpserver.url_for("/hook"), events=[])
    return got, fail_once


def _reviewed(count: int) -> None:
    """`count` triaged tickets reviewed: one ticket.reviewed event each in the outbox, unpublished."""
    user = role_user("agent")
    for _ in range(count):
        ticket = triaged_ticket()
        review_record(
            ticket_id=ticket.id,
            user=user,
            values={"priority": "low"},
            seen_version=ticket_version(ticket=ticket),
        )


def _events(count: int) -> list[WebhookEvent]:
    _reviewed(count)
    events = list(WebhookEvent.objects.order_by("id"))
    for event in events:
        webhooks.webhook_event_publish(event_id=event.id)
    return events


def test_a_drain_sends_every_due_delivery_and_records_each(receiver, taxonomy):
    got, _ = receiver
    events = _events(5)
    done = webhook_batch.webhook_drain(batch=2)  # three claims: 2 + 2 + 1
    assert done["sent"] == done["delivered"] == 5 and done["retry_in"] == -1
    assert sorted(got) == sorted(e.msg_id for e in events)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"DELIVERED"}
    assert set(WebhookAttempt.objects.values_list("number", "status_code")) == {(1, 200)}
    assert webhook_batch.webhook_drain()["sent"] == 0, "delivered once"


def test_a_failed_delivery_in_a_batch_is_retried_with_backoff_and_the_same_id(receiver, taxonomy):
    got, fail_once = receiver
    events = _events(3)
    flaky = events[1].msg_id
    fail_once.add(flaky)
    done = webhook_batch.webhook_drain()
    assert done["sent"] == 3 and done["delivered"] == 2
    assert 4 <= done["retry_in"] <= 6, "a 500 is retried after about 5 s, with jitter"
    failed = WebhookDelivery.objects.get(event__msg_id=flaky)
    assert failed.status == "PENDING" and failed.last_status_code == 500
    assert webhook_batch.webhook_drain()["sent"] == 0, "not due yet: nothing sent"
    WebhookDelivery.objects.filter(id=failed.id).update(next_attempt_at=timezone.now())
    assert webhook_batch.webhook_drain()["delivered"] == 1
    failed.refresh_from_db()
    assert failed.status == "DELIVERED" and failed.attempts == 2
    assert got.count(flaky) == 2
    attempts = list(WebhookAttempt.objects.filter(delivery=failed).order_by("number"))
    assert [(a.number, a.status_code) for a in attempts] == [(1, 500), (2, 200)]


def test_two_drains_never_claim_the_same_delivery(receiver, taxonomy):
    _events(4)
    first = webhook_batch.deliveries_claim(batch=3)
    second = webhook_batch.deliveries_claim(batch=3)
    assert len(first) == 3 and len(second) == 1
    assert not {d.id for d in first} & {d.id for d in second}
    assert webhook_batch.deliveries_claim(batch=3) == [], "all leased"


def test_a_drain_killed_after_its_claim_loses_nothing(receiver, taxonomy):
    got, _ = receiver
    events = _events(4)
    claimed = webhook_batch.deliveries_claim(
        batch=10
    )  # ...and the worker dies: nothing sent, nothing recorded
    assert len(claimed) == 4 and not got
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"PENDING"}
    assert webhook_batch.webhook_drain()["sent"] == 0, "leased: no second sender while it may be running"
    # the lease ends; the sweep finds the rows due and queues a drain, which sends every one
    later = timezone.now() + timedelta(seconds=webhooks.LEASE_S + 1)
    assert webhooks.webhook_sweep(now=later)["queued"] == 4
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())  # the clock, moved on
    assert webhook_batch.webhook_drain()["delivered"] == 4
    assert sorted(got) == sorted(e.msg_id for e in events)
    assert set(WebhookDelivery.objects.values_list("attempts", flat=True)) == {2}, "the lost try is counted"


def test_the_publish_task_sends_its_deliveries_without_a_message_each(receiver, taxonomy, monkeypatch):
    from triage import tasks

    got, _ = receiver
    ticket = triaged_ticket()
    review_record(
        ticket_id=ticket.id,
        user=role_user("agent"),
        values={"priority": "low"},
        seen_version=ticket_version(ticket=ticket),
    )
    sent: list[str] = []
    monkeypatch.setattr(tasks.webhook_deliver_task, "delay", lambda **kw: sent.append("deliver"))
    monkeypatch.setattr(tasks.webhook_drain_task, "delay", lambda **kw: sent.append("drain"))
    monkeypatch.setattr(tasks.webhook_drain_task, "apply_async", lambda **kw: sent.append("drain later"))
    event = WebhookEvent.objects.get()
    tasks.webhook_event_publish_task.run(event_id=event.id)  # as the worker runs it
    assert got == [event.msg_id] and sent == []
    assert WebhookDelivery.objects.get().status == "DELIVERED"


@pytest.fixture
def drain_slot_free():
    from triage.services import throttle

    throttle.lock_release(key=webhook_batch.DRAIN_SLOT_KEY)  # a slot left held by another test
    yield
    throttle.lock_release(key=webhook_batch.DRAIN_SLOT_KEY)


def _publish_tasks_queued(monkeypatch) -> list[str]:
    from triage import tasks

    queued: list[str] = []
    monkeypatch.setattr(tasks.webhook_drain_task, "delay", lambda **kw: queued.append("drain"))
    monkeypatch.setattr(tasks.webhook_drain_task, "apply_async", lambda **kw: queued.append("drain later"))
    return queued


def test_publishes_while_a_drain_runs_queue_nothing_and_that_drain_sends_them(
    receiver, taxonomy, monkeypatch, drain_slot_free
):
    """Events published during a drain's last claim are sent by that drain (it looks again after
    releasing its slot); their publish tasks neither drain beside it nor queue a drain each."""
    from triage import tasks

    got, _ = receiver
    queued = _publish_tasks_queued(monkeypatch)
    _reviewed(6)
    first, *late = list(WebhookEvent.objects.order_by("id"))
    running = {"now": 0, "most": 0}
    real_drain = webhook_batch.webhook_drain

    def drain(**kwargs):
        running["now"] += 1
        running["most"] = max(running["most"], running["now"])
        try:
            done = real_drain(**kwargs)
            if late:  # after this drain's last (empty) claim, before it lets go of the slot
                for event in list(late):
                    late.remove(event)
                    tasks.webhook_event_publish_task.run(event_id=event.id)
            return done
        finally:
            running["now"] -= 1

    monkeypatch.setattr(webhook_batch, "webhook_drain", drain)
    tasks.webhook_event_publish_task.run(event_id=first.id)
    assert running["most"] == 1, "one drain at a time"
    assert queued == [], "no drain message per publish"
    assert sorted(got) == sorted(WebhookEvent.objects.values_list("msg_id", flat=True)), "each sent once"
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"DELIVERED"}


def test_a_held_slot_stops_a_second_drain_and_its_holder_looks_again(receiver, taxonomy, drain_slot_free):
    from triage.services import throttle

    got, _ = receiver
    events = _events(3)
    assert throttle.lock_take(key=webhook_batch.DRAIN_SLOT_KEY, lease_s=60)
    assert webhook_batch.webhook_drain_if_free()["sent"] == 0 and not got, "another drain holds the slot"
    throttle.lock_release(key=webhook_batch.DRAIN_SLOT_KEY)
    assert webhook_batch.deliveries_due_exist()
    assert webhook_batch.webhook_drain_if_free()["delivered"] == 3
    assert sorted(got) == sorted(e.msg_id for e in events)
    assert not webhook_batch.deliveries_due_exist()


def test_a_drain_out_of_time_with_failures_queues_the_next_drain_and_the_retry(
    receiver, taxonomy, monkeypatch, drain_slot_free
):
    """Stopped on time with short retries pending: a drain now (more work) and one when the soonest
    retry is due, or the retries wait for the sweep."""
    from triage import tasks

    _, fail_once = receiver
    fail_once.update(e.msg_id for e in _events(2))
    queued = _publish_tasks_queued(monkeypatch)
    done = webhook_batch.webhook_drain_if_free(max_s=0)
    # the first retry is due 5 s +-20% after the failure (4-6 s), read back a moment later: a retry
    # jittered to 4.000 s once read 3.9986 s
    assert done["more"] == 1 and 3 <= done["retry_in"] <= 6 and done["delivered"] == 0
    tasks._webhook_drain_then_follow_up(done)
    assert queued == ["drain", "drain later"]


def test_a_drain_reports_the_soonest_short_retry_pending_not_only_its_own(
    receiver, taxonomy, drain_slot_free
):
    """A retry another drain recorded, due just after this one's run, gets its countdown drain from
    this run's follow-up (else it would wait for the sweep)."""
    _events(2)
    first, second = WebhookDelivery.objects.order_by("id")
    soon = timezone.now() + timedelta(seconds=20)
    WebhookDelivery.objects.filter(id=first.id).update(next_attempt_at=soon)
    done = webhook_batch.webhook_drain_if_free()
    assert done["delivered"] == 1 and 15 <= done["retry_in"] <= 20
    WebhookDelivery.objects.filter(id=first.id).update(next_attempt_at=timezone.now() + timedelta(hours=1))
    assert webhook_batch.webhook_drain_if_free()["retry_in"] == -1, "a long backoff is the sweep's"


def test_an_endpoint_failing_for_a_day_is_disabled_by_a_drain_and_its_failures_kept(
    receiver, taxonomy, django_capture_on_commit_callbacks
):
    """The batched recording of failures keeps the one-by-one rules: a first failure marks the
    endpoint failing; after a day of failures the endpoint is disabled, admins are emailed, and
    the batch's failed deliveries are kept FAILED (for Redeliver), not retried."""
    from django.core import mail

    from triage.models import WebhookEndpoint

    _, fail_once = receiver
    admin = role_user("admin")
    admin.email = "admin@example.com"
    admin.save()
    events = _events(3)
    fail_once.update(e.msg_id for e in events[:2])
    done = webhook_batch.webhook_drain()
    assert done["delivered"] == 1 and 4 <= done["retry_in"] <= 6
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.is_active and endpoint.failing_since is not None, "failing after the batch's failures"
    retried = WebhookDelivery.objects.filter(status="PENDING")
    assert retried.count() == 2 and {d.last_status_code for d in retried} == {500}
    assert WebhookAttempt.objects.filter(status_code=500).count() == 2
    WebhookEndpoint.objects.update(failing_since=timezone.now() - timedelta(days=1, minutes=1))
    fail_once.update(e.msg_id for e in events[:2])
    WebhookDelivery.objects.filter(status="PENDING").update(next_attempt_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        done = webhook_batch.webhook_drain()
    assert done["sent"] == 2 and done["delivered"] == 0 and done["retry_in"] == -1
    endpoint.refresh_from_db()
    assert not endpoint.is_active and "failed for a day (last: HTTP 500)" in endpoint.disabled_reason
    assert set(WebhookDelivery.objects.exclude(status="DELIVERED").values_list("status", flat=True)) == {
        "FAILED"
    }
    assert [m.to for m in mail.outbox] == [["admin@example.com"]]


def test_a_drain_publishes_the_waiting_outbox_rows_to_their_subscribers_and_sends_each_once(
    receiver, taxonomy, httpserver
):
    """No per-event publish: the drain makes the deliveries of every waiting event in one go (only
    for endpoints subscribed to its type) and sends them."""
    got, _ = receiver
    other = webhooks.webhook_endpoint_create(url=httpserver.url_for("/hook"), events=["ticket.created"])
    _reviewed(5)
    events = list(WebhookEvent.objects.order_by("id"))
    assert len(events) == 5 and all(e.published_at is None for e in events)
    assert webhook_batch.deliveries_due_exist(), "an unpublished event is work for a drain"
    done = webhook_batch.webhook_drain(batch=2)
    assert done["sent"] == done["delivered"] == 5
    assert sorted(got) == sorted(e.msg_id for e in events)
    assert not WebhookDelivery.objects.filter(endpoint=other).exists(), "not subscribed to reviews"
    assert not WebhookEvent.objects.filter(published_at__isnull=True).exists()
    assert not webhook_batch.deliveries_due_exist()
    assert webhook_batch.events_publish_pending(batch=10) == 0, "published once"
