"""What the managers' health page shows: provider, balance, today's spend against the cap, queues."""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from triage import selectors
from triage.adapters.llm.kimi_account import Balance, balance_get
from triage.models import Ticket
from triage.services import costs
from triage.services.llm_limits import kimi_limiter

logger = logging.getLogger(__name__)

QUEUES = ("llm", "media")


@dataclass(frozen=True)
class Health:
    provider: str
    model: str
    cap_reached: bool
    balance: Balance | None  # None: the offline model, no account to ask
    day: dt.date
    cap_usd: Decimal  # 0: no cap
    today: selectors.RunStats  # every provider (the offline model is free)
    kimi_today: selectors.RunStats  # what the cap counts
    queue_sizes: dict[str, int | None]  # messages waiting in the broker; None: not readable
    tickets_waiting: dict[str, int]  # PROCESSING / TRIAGING tickets in the database
    max_concurrency: int
    max_rpm: int
    in_flight: int | None


def _queue_sizes() -> dict[str, int | None]:
    """Waiting messages per queue, when the broker makes that cheap (Redis LLEN, a folder count)."""
    url: str = settings.CELERY_BROKER_URL
    sizes: dict[str, int | None] = dict.fromkeys(QUEUES)
    try:
        if url.startswith(("redis://", "rediss://")):
            import redis

            client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
            try:
                for queue in QUEUES:
                    sizes[queue] = int(client.llen(queue))
            finally:
                client.close()
        elif url.startswith("filesystem"):
            folder = Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]))
            names = [entry.name for entry in os.scandir(folder)] if folder.is_dir() else []
            for queue in QUEUES:  # kombu names each message <time>_<uuid>.<queue>.msg
                sizes[queue] = sum(1 for name in names if name.endswith(f".{queue}.msg"))
    except Exception as exc:  # the page must render whatever the broker does
        logger.warning("health: queue sizes not readable (%s)", exc)
    return sizes


def health_get(*, read_balance: bool = True) -> Health:
    provider = settings.TRIAGE_PROVIDER
    cap_reached = costs.spend_cap_reached()
    balance = None
    if provider == "kimi" and read_balance:
        balance = balance_get(api_key=settings.KIMI_API_KEY, base_url=settings.KIMI_BASE_URL, timeout_s=5.0)
    day = timezone.now().astimezone(dt.UTC).date()
    try:
        in_flight: int | None = kimi_limiter().in_flight()
    except Exception:  # Redis down: the page still renders
        in_flight = None
    counts = selectors.ticket_status_counts()
    return Health(
        provider=provider,
        model=settings.KIMI_MODEL if provider == "kimi" else "offline (TF-IDF)",
        cap_reached=cap_reached,
        balance=balance,
        day=day,
        cap_usd=costs.spend_cap_usd(),
        today=selectors.daily_run_stats(day=day),
        kimi_today=selectors.daily_run_stats(day=day, provider="kimi"),
        queue_sizes=_queue_sizes(),
        tickets_waiting={s: counts.get(s, 0) for s in (Ticket.Status.PROCESSING, Ticket.Status.TRIAGING)},
        max_concurrency=settings.KIMI_MAX_CONCURRENCY,
        max_rpm=settings.KIMI_MAX_RPM,
        in_flight=in_flight,
    )
