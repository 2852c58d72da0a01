"""Who else has a ticket open right now: "Ana is viewing / editing this ticket".

Each open ticket page reports every few seconds (an htmx poll); a report lives PRESENCE_TTL_S. In
Redis (TRIAGE_LIMITS_REDIS_URL: one hash per ticket, one field per person, the hash expiring with
its newest report) so every web process sees the same; without Redis, or when it cannot be
reached, in Django's cache (one process's view: enough for a laptop).
"""

from __future__ import annotations

import functools
import json
import logging
import time
from dataclasses import dataclass

import redis
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

PRESENCE_TTL_S = 30  # a page polls every PRESENCE_POLL_S: two missed polls and it is gone
PRESENCE_POLL_S = 10
_PREFIX = "triage:presence:"


@dataclass(frozen=True)
class Presence:
    user_id: int
    name: str
    editing: bool


@functools.lru_cache(maxsize=2)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


def _redis() -> redis.Redis | None:
    return _client(settings.TRIAGE_LIMITS_REDIS_URL) if settings.TRIAGE_LIMITS_REDIS_URL else None


def _fresh(raw: dict, now: float) -> dict[int, dict]:
    entries = {}
    for user_id, value in raw.items():
        try:
            entry = json.loads(value)
            if now - float(entry["at"]) <= PRESENCE_TTL_S:
                entries[int(user_id)] = entry
        except (ValueError, KeyError, TypeError):
            continue
    return entries


def presence_touch(*, ticket_id: int, user_id: int, name: str, editing: bool) -> None:
    """This person has the ticket open (and has changed a field of its review form: `editing`)."""
    now = time.time()
    value = json.dumps({"name": name[:150], "editing": editing, "at": now})
    client = _redis()
    if client is not None:
        try:
            key = f"{_PREFIX}{ticket_id}"
            pipe = client.pipeline()
            pipe.hset(key, str(user_id), value)
            pipe.expire(key, PRESENCE_TTL_S)
            pipe.execute()
            return
        except redis.RedisError as exc:
            logger.warning("presence: Redis unreachable (%s): keeping it in the cache", exc)
    key = f"{_PREFIX}{ticket_id}"
    entries = cache.get(key) or {}
    entries[str(user_id)] = value
    cache.set(key, entries, PRESENCE_TTL_S)


def presence_for_tickets(
    *, ticket_ids: list[int], exclude_user_id: int | None = None
) -> dict[int, list[Presence]]:
    """Who has each ticket open now (without `exclude_user_id`), editors first."""
    if not ticket_ids:
        return {}
    now = time.time()
    raws: list[dict] = []
    client = _redis()
    done = False
    if client is not None:
        try:
            pipe = client.pipeline()
            for ticket_id in ticket_ids:
                pipe.hgetall(f"{_PREFIX}{ticket_id}")
            raws = [{k.decode(): v.decode() for k, v in raw.items()} for raw in pipe.execute()]
            done = True
        except redis.RedisError as exc:
            logger.warning("presence: Redis unreachable (%s): reading the cache", exc)
    if not done:
        found = cache.get_many([f"{_PREFIX}{t}" for t in ticket_ids])
        raws = [found.get(f"{_PREFIX}{t}") or {} for t in ticket_ids]
    result: dict[int, list[Presence]] = {}
    for ticket_id, raw in zip(ticket_ids, raws, strict=True):
        people = [
            Presence(user_id=uid, name=str(e.get("name", "")), editing=bool(e.get("editing")))
            for uid, e in _fresh(raw, now).items()
            if uid != exclude_user_id
        ]
        if people:
            result[ticket_id] = sorted(people, key=lambda p: (not p.editing, p.name))
    return result


def presence_list(*, ticket_id: int, exclude_user_id: int | None = None) -> list[Presence]:
    return presence_for_tickets(ticket_ids=[ticket_id], exclude_user_id=exclude_user_id).get(ticket_id, [])
