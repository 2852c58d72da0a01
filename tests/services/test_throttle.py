"""services/throttle.py: the counters hand out distinct counts under concurrency, on both stores."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection

from triage.models import RateCounter
from triage.services.throttle import (
    Check,
    DatabaseWindowCounter,
    Limit,
    rate_counter_purge,
    throttle_clear,
    throttle_hit,
    throttle_refund,
)


@pytest.fixture(params=["redis", "database"])
def store(request, settings) -> str:
    if request.param == "redis":
        if not settings.SERVICES_AVAILABLE:
            pytest.skip("Redis not reachable")
        settings.TRIAGE_LIMITS_REDIS_URL = settings.CELERY_BROKER_URL
    else:
        settings.TRIAGE_LIMITS_REDIS_URL = ""
    return request.param


def _check(max_: int = 5, window_s: int = 600) -> Check:
    return Check(Limit("test", max_, window_s), uuid.uuid4().hex)


def test_concurrent_hits_let_exactly_the_limit_through(store, transactional_db):
    check = _check(max_=5)
    barrier = threading.Barrier(16)
    waits: list[int] = []

    def hit() -> None:
        barrier.wait()
        try:
            waits.append(throttle_hit(checks=[check]))
        finally:
            connection.close()

    threads = [threading.Thread(target=hit) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert waits.count(0) == 5
    assert all(0 < w <= 601 for w in waits if w)  # each thread reads its own clock


def test_a_refused_hit_stops_before_the_wider_limits(store, db):
    narrow, wide = _check(max_=1), _check(max_=3)
    assert throttle_hit(checks=[narrow, wide]) == 0
    for _ in range(5):
        assert throttle_hit(checks=[narrow, wide]) > 0
    # the wide limit saw one hit only: two more go through it
    assert throttle_hit(checks=[wide]) == 0
    assert throttle_hit(checks=[wide]) == 0
    assert throttle_hit(checks=[wide]) > 0


def test_clear_resets_only_when_nobody_was_refused(store, db):
    check = _check(max_=2)
    throttle_hit(checks=[check])
    throttle_clear(check=check)
    assert [throttle_hit(checks=[check]) for _ in range(3)] == [0, 0, pytest.approx(600, abs=2)]
    throttle_clear(check=check)  # 3 > 2: only this attempt is taken back, the count stays at 2
    assert throttle_hit(checks=[check]) > 0


def test_refund_takes_one_back(store, db):
    check = _check(max_=1)
    assert throttle_hit(checks=[check]) == 0
    throttle_refund(checks=[check])
    assert throttle_hit(checks=[check]) == 0


def test_an_ended_window_starts_again_and_is_purged(db, settings):
    settings.TRIAGE_LIMITS_REDIS_URL = ""
    counter = DatabaseWindowCounter()
    assert counter.hit("k", window_s=60)[0] == 1
    assert counter.hit("k", window_s=60)[0] == 2
    RateCounter.objects.filter(key="k").update(window_ends=0)  # the window ended
    count, remaining = counter.hit("k", window_s=60)
    assert count == 1 and 59 <= remaining <= 60
    RateCounter.objects.filter(key="k").update(window_ends=0)
    assert rate_counter_purge() == 1 and not RateCounter.objects.exists()


def test_redis_unreachable_falls_back_to_the_database(db, settings):
    settings.TRIAGE_LIMITS_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    check = _check(max_=1)
    assert throttle_hit(checks=[check]) == 0
    assert throttle_hit(checks=[check]) > 0
    assert RateCounter.objects.filter(key=check.key, count=2).exists()


def test_concurrent_lock_takes_give_one_holder_and_release_frees_it(store, transactional_db):
    from triage.services.throttle import lock_release, lock_take

    key = f"slot:{uuid.uuid4().hex}"
    barrier = threading.Barrier(12)
    taken: list[bool] = []

    def take() -> None:
        barrier.wait()
        try:
            taken.append(lock_take(key=key, lease_s=60))
        finally:
            connection.close()

    threads = [threading.Thread(target=take) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert taken.count(True) == 1, "one holder"
    assert not lock_take(key=key, lease_s=60)
    lock_release(key=key)
    assert lock_take(key=key, lease_s=60), "free again once its holder lets go"
    assert not lock_take(key=key, lease_s=60)
