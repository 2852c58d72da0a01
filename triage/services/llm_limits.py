"""Kimi's concurrency and requests-per-minute limits, shared across worker processes.

`kimi_slot()` holds one request slot (settings KIMI_MAX_CONCURRENCY, KIMI_MAX_RPM); the limiter is
Redis-backed when TRIAGE_LIMITS_REDIS_URL is set (by default: the broker, when it is Redis) and
process-local otherwise (adapters/ratelimit.py). `LimitedClient` wraps a triage client so each
`triage()` call runs inside a slot; triage_client_get hands it out for Kimi.

One slot covers one ticket's triage call, which may make more than one HTTP request (a repair
turn, SDK retries): counting tickets rather than requests keeps the limit below Kimi's, never above.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator

import redis
from django.conf import settings

from triage.adapters.llm.base import Taxonomy, TicketInput, TriageClient, TriageOutcome
from triage.adapters.ratelimit import Limiter, LocalLimiter, RedisLimiter, SlotTimeout, hold_slot

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=4)
def _limiter(redis_url: str, prefix: str, max_concurrency: int, max_rpm: int, lease_s: float) -> Limiter:
    if redis_url:
        client = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
        return RedisLimiter(
            client=client,
            key_prefix=prefix,
            max_concurrency=max_concurrency,
            max_rpm=max_rpm,
            lease_s=lease_s,
        )
    return LocalLimiter(max_concurrency=max_concurrency, max_rpm=max_rpm)


def kimi_limiter() -> Limiter:
    """The limiter for the current settings (one per process and configuration)."""
    return _limiter(
        settings.TRIAGE_LIMITS_REDIS_URL,
        settings.KIMI_LIMITS_KEY_PREFIX,
        settings.KIMI_MAX_CONCURRENCY,
        settings.KIMI_MAX_RPM,
        float(settings.KIMI_SLOT_LEASE_S),
    )


@contextlib.contextmanager
def kimi_slot(*, wait_s: float | None = None) -> Iterator[None]:
    """Hold one Kimi request slot for the block; raises SlotTimeout after `wait_s` (default setting)."""
    wait = float(settings.KIMI_SLOT_WAIT_S if wait_s is None else wait_s)
    with hold_slot(kimi_limiter(), wait_s=wait):
        yield


class LimitedClient:
    """A triage client whose `triage()` waits for a Kimi slot; everything else is the client's."""

    def __init__(self, client: TriageClient) -> None:
        self._client = client

    def __getattr__(self, name: str) -> object:
        return getattr(self._client, name)

    @property
    def provider(self) -> str:
        return self._client.provider

    @property
    def accepts_video(self) -> bool:
        return self._client.accepts_video

    @property
    def wrapped(self) -> TriageClient:
        return self._client

    def triage(self, ticket: TicketInput, taxonomy: Taxonomy) -> TriageOutcome:
        try:
            with kimi_slot():
                return self._client.triage(ticket, taxonomy)
        except SlotTimeout as exc:
            logger.warning("ticket %s: %s", ticket.ticket_id, exc)
            return TriageOutcome(
                provider=self._client.provider,
                model=str(getattr(self._client, "model", "")),
                prompt_version="",
                result=None,
                error_kind="upstream",
                error_message=f"Kimi request limit: {exc} (KIMI_MAX_CONCURRENCY/KIMI_MAX_RPM)",
                extra={"transient": True},
            )
