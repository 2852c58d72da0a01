"""KIMI_MAX_CONCURRENCY holds across two real Celery worker processes sharing one Redis limiter."""

from __future__ import annotations

import json
import os
import threading
import uuid

import pytest

from tests.kimi_fake import BILLING_REPLY, _json_response, chat_completion_body
from tests.worker import wait_for
from triage.models import Ticket
from triage.tasks import ticket_triage_task

pytestmark = pytest.mark.services


def test_two_workers_never_exceed_the_shared_kimi_concurrency(broker, start_worker, kimi_fake, taxonomy):
    if broker != "redis":
        pytest.skip("the filesystem run adds nothing here: the limiter is Redis either way")
    in_flight, peak, lock, release = 0, 0, threading.Lock(), threading.Event()

    def slow_answer():
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        try:
            release.wait(0.8)
            body = chat_completion_body(json.dumps(BILLING_REPLY))
            return _json_response(200, body)
        finally:
            with lock:
                in_flight -= 1

    tickets = [
        Ticket.objects.create(subject=f"Rechnung {i}", description="zweimal abgebucht", status="TRIAGING")
        for i in range(6)
    ]
    for _ in tickets:
        kimi_fake._queue(slow_answer)  # a counting reply; the public helpers cannot count
    env = {
        "TRIAGE_PROVIDER": "kimi",
        "KIMI_API_KEY": "sk-test",
        "KIMI_BASE_URL": kimi_fake.base_url,
        "KIMI_MAX_RETRIES": "0",
        "KIMI_MAX_CONCURRENCY": "2",
        "KIMI_SLOT_WAIT_S": "120",
        "TRIAGE_LIMITS_REDIS_URL": os.environ.get("TRIAGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/13"),
        "KIMI_LIMITS_KEY_PREFIX": f"test-e2e-{uuid.uuid4().hex}",
    }
    start_worker(**env)  # each worker: 2 prefork children, so 4 tickets could run at once
    start_worker(**env)
    for ticket in tickets:
        ticket_triage_task.delay(ticket_id=ticket.id)
    wait_for(
        lambda: not Ticket.objects.filter(status=Ticket.Status.TRIAGING).exists(),
        timeout=120,
        message="all tickets triaged",
    )
    statuses = set(Ticket.objects.values_list("status", flat=True))
    assert statuses == {Ticket.Status.NEEDS_REVIEW}
    assert len(kimi_fake.requests) == 6
    assert peak == 2  # reached with 4 worker children competing, never exceeded
