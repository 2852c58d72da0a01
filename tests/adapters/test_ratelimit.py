"""The shared Kimi request limiter: the Redis one across real OS processes, the local one in threads."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis

from triage.adapters.ratelimit import LocalLimiter, RedisLimiter, SlotTimeout, hold_slot

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TRIAGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    prefix = f"test-ratelimit:{uuid.uuid4().hex}"
    client.prefix = prefix  # type: ignore[attr-defined]
    yield client
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


# Each process runs THREADS threads; every thread takes a slot ROUNDS times and, while holding it,
# counts itself into a shared Redis counter: the highest count seen is the true concurrency.
_HOLDER = textwrap.dedent(
    """
    import sys, threading, time, redis
    from triage.adapters.ratelimit import RedisLimiter, hold_slot
    url, prefix, limit, threads, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    client = redis.Redis.from_url(url)
    limiter = RedisLimiter(client=client, key_prefix=prefix, max_concurrency=limit, max_rpm=0, lease_s=10)
    def work():
        for _ in range(rounds):
            with hold_slot(limiter, wait_s=60):
                now = client.incr(prefix + ":inside")
                client.rpush(prefix + ":seen", now)
                time.sleep(0.05)
                client.decr(prefix + ":inside")
    ts = [threading.Thread(target=work) for _ in range(threads)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    print("done", flush=True)
    """
)


def _run_holders(client, *, limit: int, processes: int = 2, threads: int = 8, rounds: int = 4) -> list[int]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _HOLDER, REDIS_URL, client.prefix, str(limit), str(threads), str(rounds)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(processes)
    ]
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0 and b"done" in out, out.decode(errors="replace")
    seen = [int(v) for v in client.lrange(f"{client.prefix}:seen", 0, -1)]
    assert len(seen) == processes * threads * rounds
    return seen


def test_concurrency_limit_holds_across_two_processes(redis_client):
    seen = _run_holders(redis_client, limit=3)
    assert max(seen) == 3  # reached, never exceeded, by 16 threads in 2 processes
    assert redis_client.zcard(f"{redis_client.prefix}:slots") == 0  # every slot given back


def test_without_a_limit_the_same_load_overlaps_more(redis_client):
    # the control for the test above: the counter does see more than 3 when nothing limits
    assert max(_run_holders(redis_client, limit=0)) > 3


def test_a_killed_worker_frees_its_slot_when_the_lease_lapses(redis_client):
    script = textwrap.dedent(
        """
        import sys, time, redis
        from triage.adapters.ratelimit import RedisLimiter
        limiter = RedisLimiter(client=redis.Redis.from_url(sys.argv[1]), key_prefix=sys.argv[2],
                               max_concurrency=1, max_rpm=0, lease_s=1.5)
        assert limiter.acquire(wait_s=5)
        print("holding", flush=True)
        time.sleep(600)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, REDIS_URL, redis_client.prefix], cwd=ROOT, stdout=subprocess.PIPE
    )
    try:
        assert proc.stdout.readline().strip() == b"holding"
        # its renewer keeps the lease alive past lease_s while the process lives
        time.sleep(2.0)
        other = RedisLimiter(
            client=redis_client, key_prefix=redis_client.prefix, max_concurrency=1, max_rpm=0
        )
        assert other.acquire(wait_s=0.3) is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        started = time.monotonic()
        token = other.acquire(wait_s=5)
        assert token is not None
        assert time.monotonic() - started < 3.0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_lapsed_lease_is_reported_once_and_the_live_ones_are_still_renewed(redis_client, caplog):
    limiter = RedisLimiter(
        client=redis_client, key_prefix=redis_client.prefix, max_concurrency=2, max_rpm=0, lease_s=0.3
    )
    lost = limiter.acquire(wait_s=1)
    redis_client.zrem(limiter.slots_key, lost)  # Redis lost it (a failover), or a sweep took it
    live = limiter.acquire(wait_s=1)
    time.sleep(1.0)  # ten renewals
    lapsed = [r for r in caplog.records if "lapsed while in use" in r.getMessage()]
    assert len(lapsed) == 1 and "1 slot lease" in lapsed[0].getMessage()
    # the live token's lease was pushed past its 0.3 s all along
    assert redis_client.zscore(limiter.slots_key, live) > redis_client.time()[0]
    limiter.release(live)
    limiter.release(lost)  # releasing a lapsed slot is harmless


def test_the_lease_renewer_ends_when_no_slot_is_held_and_comes_back_with_the_next(redis_client):
    limiter = RedisLimiter(
        client=redis_client, key_prefix=redis_client.prefix, max_concurrency=1, max_rpm=0, lease_s=0.3
    )

    def renewers() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name == "kimi-slot-lease"}

    before = renewers()
    token = limiter.acquire(wait_s=1)
    (first,) = renewers() - before
    limiter.release(token)
    first.join(timeout=2)
    assert not first.is_alive()
    token = limiter.acquire(wait_s=1)
    (second,) = renewers() - before
    assert second is not first
    time.sleep(0.6)  # twice the lease: renewed, so still held
    assert limiter.acquire(wait_s=0) is None
    limiter.release(token)


def test_requests_per_minute_are_shared(redis_client):
    make = lambda: RedisLimiter(  # noqa: E731 - two "processes" sharing one window
        client=redis_client, key_prefix=redis_client.prefix, max_concurrency=0, max_rpm=3
    )
    a, b = make(), make()
    assert a.acquire(wait_s=0) and b.acquire(wait_s=0) and a.acquire(wait_s=0)
    assert b.acquire(wait_s=0.3) is None
    assert a.acquire(wait_s=0.3) is None


def test_unreachable_redis_lets_requests_through(caplog):
    client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    limiter = RedisLimiter(client=client, max_concurrency=1, max_rpm=1)
    assert limiter.acquire(wait_s=1) and limiter.acquire(wait_s=1)
    assert "request not limited" in caplog.text


def test_local_limiter_caps_threads_and_times_out():
    limiter = LocalLimiter(max_concurrency=3, max_rpm=0)
    inside, peak, lock = 0, 0, threading.Lock()

    def work():
        nonlocal inside, peak
        for _ in range(5):
            with hold_slot(limiter, wait_s=30):
                with lock:
                    inside += 1
                    peak = max(peak, inside)
                time.sleep(0.01)
                with lock:
                    inside -= 1

    threads = [threading.Thread(target=work) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 3 and limiter.in_flight() == 0

    tokens = [limiter.acquire(wait_s=0) for _ in range(3)]
    assert all(tokens)
    with pytest.raises(SlotTimeout), hold_slot(limiter, wait_s=0.1):
        pass
    limiter.release(tokens[0])
    with hold_slot(limiter, wait_s=0.1):
        assert limiter.in_flight() == 3


def test_local_limiter_requests_per_minute():
    limiter = LocalLimiter(max_concurrency=0, max_rpm=2)
    for _ in range(2):
        limiter.release(limiter.acquire(wait_s=0))
    assert limiter.acquire(wait_s=0.1) is None
