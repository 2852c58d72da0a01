"""Failed sign-ins counted per username + client address, in the `login-throttle` cache.

A sliding window: each failure's time is kept for TRIAGE_LOGIN_WINDOW_S; with
TRIAGE_LOGIN_MAX_FAILURES of them in the window, the pair is refused (without checking the password,
so guessing cannot go on) until the oldest leaves the window. A success clears the pair. The key is a
hash, so neither the typed username nor the address is stored in the cache.

The address is REMOTE_ADDR: behind a proxy it must be the client's (gunicorn `--forwarded-allow-ips`
or the proxy's PROXY protocol), never a header the client could set.
"""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import caches


def _key(*, username: str, ip: str) -> str:
    digest = hashlib.sha256(f"{username.strip().casefold()}|{ip}".encode()).hexdigest()
    return f"failures:{digest}"


def _recent(key: str, now: float) -> list[float]:
    window = settings.TRIAGE_LOGIN_WINDOW_S
    return [t for t in caches["login-throttle"].get(key, []) if now - t < window]


def login_throttle_wait_s(*, username: str, ip: str, now: float | None = None) -> int:
    """Seconds until this pair may try again; 0 when it may now."""
    now = time.time() if now is None else now
    failures = _recent(_key(username=username, ip=ip), now)
    if len(failures) < settings.TRIAGE_LOGIN_MAX_FAILURES:
        return 0
    oldest_counted = sorted(failures)[-settings.TRIAGE_LOGIN_MAX_FAILURES]
    return max(1, math.ceil(oldest_counted + settings.TRIAGE_LOGIN_WINDOW_S - now))


def login_failure_record(*, username: str, ip: str, now: float | None = None) -> int:
    """Count one failure; returns how many are in the window now."""
    now = time.time() if now is None else now
    key = _key(username=username, ip=ip)
    failures = [*_recent(key, now), now][-settings.TRIAGE_LOGIN_MAX_FAILURES :]
    caches["login-throttle"].set(key, failures, timeout=settings.TRIAGE_LOGIN_WINDOW_S)
    return len(failures)


def login_throttle_clear(*, username: str, ip: str) -> None:
    caches["login-throttle"].delete(_key(username=username, ip=ip))
