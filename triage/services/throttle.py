"""Rate limits shared by every web process: sign-ins, password resets, new tickets by email.

Each limit is a fixed-window counter (adapters/counters.py) per subject: a hash of what is limited
(a username and an address, a username alone, a sender), so neither the typed name nor the address
is stored. An attempt is counted *before* the work it guards (a password check, a reset email, a new
ticket), with one atomic increment that returns the new count: of N concurrent attempts exactly the
first `max` see a count within the limit, whatever the number of processes or threads.

The counters live in Redis when TRIAGE_LIMITS_REDIS_URL is set (by default the broker, when it is
Redis), else in the database (RateCounter: one `INSERT ... ON CONFLICT DO UPDATE ... RETURNING`
statement, atomic on PostgreSQL and SQLite alike). The database rather than a file: it is already the
one store every web process (and every machine) shares, and SQLite serializes its writers itself.
If Redis cannot be reached the database counts, so a limit never silently stops holding.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import connection
from django.db.models import F

from triage.adapters.counters import TRANSIENT_ERRORS, RedisWindowCounter, WindowCounter
from triage.models import RateCounter

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    """At most `max` counted attempts per subject within `window_s` seconds; 0 turns it off."""

    name: str
    max: int
    window_s: int


@dataclass(frozen=True)
class Check:
    limit: Limit
    subject: str

    @property
    def key(self) -> str:
        digest = hashlib.sha256(self.subject.encode("utf-8", "surrogatepass")).hexdigest()[:40]
        return f"{self.limit.name}:{digest}"


class DatabaseWindowCounter:
    """The counter in RateCounter rows: each call is one statement, so it is atomic by itself."""

    def _table(self) -> str:
        return connection.ops.quote_name(RateCounter._meta.db_table)

    def hit(self, key: str, *, window_s: float) -> tuple[int, float]:
        now = time.time()
        table = self._table()
        # A window that has ended starts again at 1; otherwise one more. RETURNING gives the count
        # this statement wrote, not one another process may have written since. The table name is
        # our model's, quoted; every value is a parameter.
        sql = (
            f'INSERT INTO {table} ("key", "count", "window_ends") VALUES (%s, 1, %s) '  # noqa: S608
            f'ON CONFLICT ("key") DO UPDATE SET '
            f'"count" = CASE WHEN {table}."window_ends" <= %s THEN 1 ELSE {table}."count" + 1 END, '
            f'"window_ends" = CASE WHEN {table}."window_ends" <= %s THEN excluded."window_ends" '
            f'ELSE {table}."window_ends" END '
            f'RETURNING "count", "window_ends"'
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [key, now + window_s, now, now])
            count, window_ends = cursor.fetchone()
        return int(count), max(0.0, float(window_ends) - now)

    def undo(self, key: str) -> None:
        RateCounter.objects.filter(key=key, count__gt=0).update(count=F("count") - 1)

    def clear(self, key: str, *, at_most: int) -> None:
        RateCounter.objects.filter(key=key, count__lte=at_most).delete()


@functools.lru_cache(maxsize=4)
def _redis_counter(url: str, prefix: str) -> RedisWindowCounter:
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    return RedisWindowCounter(client=client, key_prefix=prefix)


def _counters() -> list[WindowCounter]:
    """The counter to use, then the fallback when Redis cannot be reached."""
    database = DatabaseWindowCounter()
    if settings.TRIAGE_LIMITS_REDIS_URL:
        return [
            _redis_counter(settings.TRIAGE_LIMITS_REDIS_URL, settings.TRIAGE_THROTTLE_KEY_PREFIX),
            database,
        ]
    return [database]


def _call(method: str, *args: object, **kwargs: object):  # noqa: ANN202 - the counter's own result
    counters = _counters()
    for counter in counters[:-1]:
        try:
            return getattr(counter, method)(*args, **kwargs)
        except TRANSIENT_ERRORS as exc:
            logger.warning("rate limit counter: Redis unreachable (%s): counting in the database", exc)
    return getattr(counters[-1], method)(*args, **kwargs)


def throttle_hit(*, checks: Sequence[Check]) -> int:
    """Count one attempt against each check in order, stopping at the first one past its limit.

    Returns 0 when the attempt may go on, else the seconds until that limit's window ends. Stopping
    at the first refusal keeps a refused attempt from using up the wider limits (one address
    hammering a username does not lock that username out everywhere by itself).
    """
    for check in checks:
        if check.limit.max <= 0:
            continue
        count, remaining = _call("hit", check.key, window_s=check.limit.window_s)
        if count > check.limit.max:
            logger.info("rate limit %s reached (%d in %d s)", check.limit.name, count, check.limit.window_s)
            return max(1, int(remaining + 0.999))
    return 0


def throttle_refund(*, checks: Sequence[Check]) -> None:
    """Take back one counted attempt per check (it turned out not to be a failure)."""
    for check in checks:
        if check.limit.max > 0:
            _call("undo", check.key)


def throttle_clear(*, check: Check) -> None:
    """Start the check's count afresh, unless attempts past its limit were refused meanwhile (then
    only this attempt is taken back): a concurrent burst cannot be reset by one success in it."""
    if check.limit.max <= 0:
        return
    _call("clear", check.key, at_most=check.limit.max)
    _call("undo", check.key)


def rate_counter_purge(*, now: float | None = None) -> int:
    """Delete the database counters whose window has ended (Redis expires its own)."""
    deleted, _ = RateCounter.objects.filter(window_ends__lt=time.time() if now is None else now).delete()
    return deleted


def lock_take(*, key: str, lease_s: float) -> bool:
    """Take the lock `key` (one atomic increment: the first count in the window holds it).

    A refused caller's count is not taken back: a count above one always means a holder that has
    not released yet (a take-back racing a release could refuse a caller while nobody holds it).
    The window is the lease: a holder that dies without `lock_release` frees it when it ends."""
    count, _ = _call("hit", key, window_s=lease_s)
    return count == 1


def lock_release(*, key: str) -> None:
    _call("clear", key, at_most=2**62)  # whatever the refused callers added
