"""What is waiting in the Celery broker, per queue: how many messages and how old the oldest is.

Two brokers exist: Redis (kombu keeps a queue as a list, LPUSH in, BRPOP out, so the oldest message
is at index -1) and kombu's filesystem transport (one file per message, `<n>_<uuid>.<queue>.msg`;
the number is a monotonic clock, so the age comes from the file's mtime). A message's age on Redis
comes from the `triage_sent_at` header every task gets at publish (triage/celery.py); a message
published without it has no known age. No settings here: the caller passes the broker's address.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SENT_AT_HEADER = "triage_sent_at"


@dataclass(frozen=True)
class QueueDepth:
    queue: str
    waiting: int | None  # None: not readable
    oldest_age_s: float | None  # None: empty, or the oldest message's age is unknown


def _sent_at(raw: bytes | None) -> float | None:
    if not raw:
        return None
    try:
        headers = json.loads(raw).get("headers") or {}
        value = headers.get(SENT_AT_HEADER)
        return float(value) if value is not None else None
    except (ValueError, TypeError, AttributeError):
        return None


def redis_depths(*, url: str, queues: Sequence[str], now: float | None = None) -> list[QueueDepth]:
    import redis

    now = time.time() if now is None else now
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        pipe = client.pipeline(transaction=False)
        for queue in queues:
            pipe.llen(queue)
            pipe.lindex(queue, -1)
        answers = pipe.execute()
    finally:
        client.close()
    depths = []
    for i, queue in enumerate(queues):
        waiting, oldest = int(answers[2 * i]), _sent_at(answers[2 * i + 1])
        age = max(0.0, now - oldest) if waiting and oldest is not None else None
        depths.append(QueueDepth(queue, waiting, age))
    return depths


def filesystem_depths(*, folder: Path, queues: Sequence[str], now: float | None = None) -> list[QueueDepth]:
    now = time.time() if now is None else now
    counts = dict.fromkeys(queues, 0)
    oldest: dict[str, float] = {}
    if folder.is_dir():
        for entry in os.scandir(folder):
            name = entry.name
            if not name.endswith(".msg"):
                continue
            queue = name[:-4].rsplit(".", 1)[-1]
            if queue not in counts:
                continue
            try:
                mtime = entry.stat().st_mtime
            except FileNotFoundError:  # taken by a worker meanwhile
                continue
            counts[queue] += 1
            oldest[queue] = min(oldest.get(queue, mtime), mtime)
    return [QueueDepth(q, counts[q], max(0.0, now - oldest[q]) if q in oldest else None) for q in queues]
