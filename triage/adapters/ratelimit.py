"""A limit on concurrent requests and requests per minute, shared by every worker process.

Two implementations of one small interface (`acquire` -> token or None, `release`):

- `RedisLimiter`: one atomic Lua script per attempt over two sorted sets. `slots` holds one member
  per request in flight, scored by its lease expiry; `rpm` holds one member per request started,
  scored by its start, trimmed to the last 60 s (a sliding window: no double burst at a minute's
  edge). The script reads Redis's own clock (TIME), so the hosts' clocks do not have to agree.
  A held slot's lease is renewed every lease/3 by one daemon thread per process while the call
  runs; a worker killed mid-call stops renewing and its slot is swept once the lease lapses, so a
  crash cannot leak capacity for longer than one lease.
- `LocalLimiter`: the same limits inside one process (threads). Used in the embedded mode
  (SQLite + filesystem broker) where there is no shared server: it is exact for the single
  `make run` worker and per process otherwise.

If Redis cannot be reached the limiter lets the request through and logs it: the broker is the
same Redis, so a worker that cannot reach it is not picking up new work anyway.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Protocol

import redis

logger = logging.getLogger(__name__)

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (redis.ConnectionError, redis.TimeoutError)

RPM_WINDOW_S = 60.0

# KEYS: slots, rpm. ARGV: max_concurrency, max_rpm, lease_s, token. Returns {1, "0"} when the
# request may start, else {0, "<seconds worth waiting>"}. 0 for a limit means no limit.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local max_conc = tonumber(ARGV[1])
local max_rpm = tonumber(ARGV[2])
local lease = tonumber(ARGV[3])
if max_conc > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  if redis.call('ZCARD', KEYS[1]) >= max_conc then
    return {0, '0'}
  end
end
if max_rpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 60)
  if redis.call('ZCARD', KEYS[2]) >= max_rpm then
    local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    return {0, tostring(tonumber(oldest[2]) + 60 - now)}
  end
  redis.call('ZADD', KEYS[2], now, ARGV[4])
  redis.call('EXPIRE', KEYS[2], 120)
end
if max_conc > 0 then
  redis.call('ZADD', KEYS[1], now + lease, ARGV[4])
end
return {1, '0'}
"""

# KEYS: slots. ARGV: lease_s, token... Pushes the lease of every token still held; a token already
# swept (this process stalled past its lease) is not re-added: it would exceed the limit. Returns
# the tokens that were gone.
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local lease = tonumber(ARGV[1])
local lapsed = {}
for i = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], 'XX', now + lease, ARGV[i])
  else
    table.insert(lapsed, ARGV[i])
  end
end
return lapsed
"""


class Limiter(Protocol):
    def acquire(self, *, wait_s: float) -> str | None: ...

    def release(self, token: str) -> None: ...

    def in_flight(self) -> int: ...


class SlotTimeout(Exception):
    """No slot became free within the wait."""


# Waiting for a free slot polls from 20 ms backing off to 250 ms: 50 waiting threads then cost Redis
# ~200 calls/s at most, and a freed slot is taken within a quarter second.
_POLL_FIRST_S = 0.02
_POLL_MAX_S = 0.25


class RedisLimiter:
    def __init__(
        self,
        *,
        client: redis.Redis,
        key_prefix: str = "triage:kimi",
        max_concurrency: int,
        max_rpm: int,
        lease_s: float = 30.0,
    ) -> None:
        self.client = client
        self.slots_key = f"{key_prefix}:slots"
        self.rpm_key = f"{key_prefix}:rpm"
        self.max_concurrency = max_concurrency
        self.max_rpm = max_rpm
        self.lease_s = lease_s
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._lock = threading.Lock()
        self._held: set[str] = set()
        self._renewer: threading.Thread | None = None
        self._pid = os.getpid()

    def acquire(self, *, wait_s: float) -> str | None:
        token = uuid.uuid4().hex
        deadline = time.monotonic() + wait_s
        args: list[str | int | float] = [self.max_concurrency, self.max_rpm, self.lease_s, token]
        poll = _POLL_FIRST_S
        while True:
            try:
                ok, hint = self._acquire(keys=[self.slots_key, self.rpm_key], args=args)
            except TRANSIENT_ERRORS as exc:
                logger.warning("rate limiter: Redis unreachable (%s): request not limited", exc)
                return token
            if int(ok):
                self._hold(token)
                return token
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            rpm_wait = float(hint)  # > 0: the per-minute window frees a place in this many seconds
            if rpm_wait > 0:
                pause = rpm_wait * random.uniform(1.0, 1.2)  # jitter: the waiters do not wake together
            else:
                pause, poll = poll * random.uniform(0.5, 1.0), min(poll * 1.5, _POLL_MAX_S)
            time.sleep(min(pause, remaining) + 0.005)

    def release(self, token: str) -> None:
        with self._lock:
            self._held.discard(token)
        try:
            self.client.zrem(self.slots_key, token)
        except TRANSIENT_ERRORS as exc:  # the lease lapses on its own
            logger.warning("rate limiter: could not release a slot (%s)", exc)

    def in_flight(self) -> int:
        """Slots currently leased, across all processes (for the health page and tests)."""
        now = time.time()
        return int(self.client.zcount(self.slots_key, now, "+inf"))

    def _hold(self, token: str) -> None:
        if self.max_concurrency <= 0:
            return
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's renewer thread did not come along
                self._pid, self._held, self._renewer = os.getpid(), set(), None
            self._held.add(token)
            if self._renewer is None or not self._renewer.is_alive():
                self._renewer = threading.Thread(target=self._renew_loop, name="kimi-slot-lease", daemon=True)
                self._renewer.start()

    def _renew_loop(self) -> None:
        """Renew the held leases every third of a lease; end when none is held (the next _hold
        starts another). A lease found lapsed (Redis lost it, or this process stalled past it)
        cannot be renewed: it is reported once and no longer renewed."""
        while True:
            time.sleep(self.lease_s / 3)
            with self._lock:
                tokens = list(self._held)
                if not tokens:
                    self._renewer = None
                    return
            try:
                lapsed = self._renew(keys=[self.slots_key], args=[self.lease_s, *tokens])
            except TRANSIENT_ERRORS as exc:
                logger.warning("rate limiter: could not renew %d slot lease(s) (%s)", len(tokens), exc)
                continue
            if lapsed:
                with self._lock:
                    self._held.difference_update(t.decode() if isinstance(t, bytes) else t for t in lapsed)
                logger.warning("rate limiter: %d slot lease(s) lapsed while in use", len(lapsed))


class LocalLimiter:
    """The same limits for the threads of one process (embedded mode, no Redis)."""

    def __init__(self, *, max_concurrency: int, max_rpm: int) -> None:
        self.max_concurrency = max_concurrency
        self.max_rpm = max_rpm
        self._cond = threading.Condition()
        self._held: set[str] = set()
        self._starts: collections.deque[float] = collections.deque()

    def acquire(self, *, wait_s: float) -> str | None:
        token = uuid.uuid4().hex
        deadline = time.monotonic() + wait_s
        with self._cond:
            while True:
                now = time.monotonic()
                while self._starts and self._starts[0] <= now - RPM_WINDOW_S:
                    self._starts.popleft()
                busy = 0 < self.max_concurrency <= len(self._held)
                rpm_full = 0 < self.max_rpm <= len(self._starts)
                if not busy and not rpm_full:
                    self._held.add(token)
                    if self.max_rpm > 0:
                        self._starts.append(now)
                    return token
                remaining = deadline - now
                if remaining <= 0:
                    return None
                wait = remaining
                if rpm_full:
                    wait = min(wait, self._starts[0] + RPM_WINDOW_S - now)
                self._cond.wait(timeout=max(wait, 0.01))

    def release(self, token: str) -> None:
        with self._cond:
            self._held.discard(token)
            self._cond.notify()

    def in_flight(self) -> int:
        with self._cond:
            return len(self._held)


@contextlib.contextmanager
def hold_slot(limiter: Limiter, *, wait_s: float) -> Iterator[str]:
    """Hold one slot for the duration of the block; SlotTimeout when none frees within wait_s."""
    token = limiter.acquire(wait_s=wait_s)
    if token is None:
        raise SlotTimeout(f"no free request slot within {wait_s:g} s")
    try:
        yield token
    finally:
        limiter.release(token)
