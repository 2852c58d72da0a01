"""Worker liveness and the broker's queues, for the managers' health page.

Every worker runs a daemon thread (started on `worker_ready`, triage/celery.py) that writes one
WorkerHeartbeat row per queue it consumes every TRIAGE_HEARTBEAT_EVERY_S. The thread beats whether
or not the worker is busy, so a long ffmpeg run or a deep backlog never reads as a dead worker; a
killed or hung process stops beating. A queue is alive while its newest heartbeat is younger than
TRIAGE_HEARTBEAT_MISSED beats.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from triage.adapters.broker import QueueDepth, filesystem_depths, redis_depths
from triage.models import WorkerHeartbeat

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueHealth:
    name: str
    waiting: int | None  # None: the broker could not be read
    oldest_age_s: float | None
    workers_alive: int
    last_beat_at: datetime | None  # the newest heartbeat of any worker on this queue
    alive: bool


def worker_heartbeat_write(
    *, queues: list[str], hostname: str, pid: int, started_at: datetime, now: datetime | None = None
) -> None:
    now = now or timezone.now()
    for queue in queues:
        WorkerHeartbeat.objects.update_or_create(
            queue=queue,
            hostname=hostname,
            defaults={"beat_at": now, "pid": pid, "started_at": started_at},
        )


# heartbeats of workers gone this long (a container replaced, a host retired) are deleted by the sweep
HEARTBEAT_KEEP = timedelta(days=7)


def worker_heartbeat_prune(*, now: datetime | None = None) -> int:
    """Delete the rows of workers that stopped beating HEARTBEAT_KEEP ago; returns how many."""
    now = now or timezone.now()
    deleted, _ = WorkerHeartbeat.objects.filter(beat_at__lt=now - HEARTBEAT_KEEP).delete()
    return deleted


def _dead_after() -> timedelta:
    return timedelta(seconds=settings.TRIAGE_HEARTBEAT_EVERY_S * settings.TRIAGE_HEARTBEAT_MISSED)


def broker_depths(*, queues: tuple[str, ...]) -> list[QueueDepth]:
    url: str = settings.CELERY_BROKER_URL
    try:
        if url.startswith(("redis://", "rediss://")):
            return redis_depths(url=url, queues=queues)
        if url.startswith("filesystem"):
            folder = Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]))
            return filesystem_depths(folder=folder, queues=queues)
    except Exception as exc:  # the page must render whatever the broker does
        logger.warning("health: queue depths not readable (%s)", exc)
    return [QueueDepth(q, None, None) for q in queues]


def queue_health_list(*, now: datetime | None = None) -> list[QueueHealth]:
    now = now or timezone.now()
    queues = tuple(settings.TRIAGE_QUEUES)
    alive_since = now - _dead_after()
    beats: dict[str, list[WorkerHeartbeat]] = {q: [] for q in queues}
    for beat in WorkerHeartbeat.objects.filter(queue__in=queues):
        beats[beat.queue].append(beat)
    rows = []
    for depth in broker_depths(queues=queues):
        mine = beats[depth.queue]
        last = max((b.beat_at for b in mine), default=None)
        live = sum(1 for b in mine if b.beat_at >= alive_since)
        rows.append(QueueHealth(depth.queue, depth.waiting, depth.oldest_age_s, live, last, live > 0))
    return rows
