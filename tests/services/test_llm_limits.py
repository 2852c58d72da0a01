from __future__ import annotations

import os
import threading
import time

import pytest

from tests.kimi_fake import BILLING_REPLY
from triage.adapters.llm.base import TicketInput, TriageOutcome
from triage.adapters.ratelimit import LocalLimiter, RedisLimiter
from triage.models import Ticket, TriageRun
from triage.services import llm_limits, triage
from triage.services.llm_limits import LimitedClient, kimi_limiter


class _Recorder:
    """A triage client that records how many slots were taken while it ran."""

    provider = "kimi"
    accepts_video = True
    model = "kimi-k2.6"

    def __init__(self) -> None:
        self.in_flight_seen: list[int] = []

    def triage(self, ticket, taxonomy) -> TriageOutcome:
        self.in_flight_seen.append(kimi_limiter().in_flight())
        return TriageOutcome(
            provider="kimi", model=self.model, prompt_version="v", result=None, error_kind="bug"
        )


@pytest.fixture
def local_limits(settings):
    settings.TRIAGE_LIMITS_REDIS_URL = ""
    settings.KIMI_MAX_CONCURRENCY = 1
    settings.KIMI_MAX_RPM = 0
    settings.KIMI_SLOT_WAIT_S = 0.2
    return settings


def test_proxy_holds_a_slot_only_during_triage_and_forwards_the_rest(local_limits):
    inner = _Recorder()
    client = LimitedClient(inner)
    assert (client.provider, client.accepts_video, client.model) == ("kimi", True, "kimi-k2.6")
    assert isinstance(kimi_limiter(), LocalLimiter)
    assert kimi_limiter().in_flight() == 0
    client.triage(TicketInput(ticket_id=1, subject="s", body="b"), None)
    assert inner.in_flight_seen == [1]
    assert kimi_limiter().in_flight() == 0


def test_no_slot_within_the_wait_is_a_failed_run_not_a_crash(local_limits):
    token = kimi_limiter().acquire(wait_s=0)  # another request holds the only slot
    try:
        inner = _Recorder()
        outcome = LimitedClient(inner).triage(TicketInput(ticket_id=1, subject="s", body="b"), None)
    finally:
        kimi_limiter().release(token)
    assert inner.in_flight_seen == []  # never called
    assert outcome.error_kind == "upstream" and "no free request slot within 0.2 s" in outcome.error_message
    assert outcome.extra["transient"] is True


@pytest.mark.django_db
def test_kimi_triage_waits_for_the_shared_slot(taxonomy, settings, kimi_fake):
    settings.TRIAGE_PROVIDER = "kimi"
    settings.KIMI_API_KEY = "sk-test"
    settings.KIMI_BASE_URL = kimi_fake.base_url
    settings.KIMI_MAX_RETRIES = 0
    settings.KIMI_MAX_CONCURRENCY = 1
    settings.KIMI_SLOT_WAIT_S = 5
    settings.TRIAGE_LIMITS_REDIS_URL = os.environ.get("TRIAGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
    if not settings.SERVICES_AVAILABLE:
        pytest.skip("Redis not reachable")
    limiter = kimi_limiter()
    assert isinstance(limiter, RedisLimiter)
    kimi_fake.reply_json(BILLING_REPLY)
    ticket = Ticket.objects.create(subject="Rechnung", description="zweimal", status="TRIAGING")
    token = limiter.acquire(wait_s=0)
    released = threading.Timer(0.5, limiter.release, args=[token])
    started = time.monotonic()
    released.start()
    run = triage.ticket_triage(ticket_id=ticket.id)
    waited = time.monotonic() - started
    released.join()
    assert waited >= 0.45  # the call waited for the slot another process held
    assert run.status == TriageRun.Status.DONE, run.error_message
    assert run.latency_ms is not None
    assert kimi_fake.requests and limiter.in_flight() == 0
    llm_limits._limiter.cache_clear()
