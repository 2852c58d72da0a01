"""What the managers' health page shows: provider, balance, today's spend against the cap, queues."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from triage import selectors
from triage.adapters.llm.kimi_account import Balance, balance_get
from triage.models import Ticket
from triage.services import costs
from triage.services.llm_limits import kimi_limiter
from triage.services.workers import QueueHealth, queue_health_list

logger = logging.getLogger(__name__)


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
    queues: list[QueueHealth]  # every queue: depth, oldest job, live workers (services/workers.py)
    tickets_waiting: dict[str, int]  # PROCESSING / TRIAGING tickets in the database
    max_concurrency: int
    max_rpm: int
    in_flight: int | None


def _queue_sizes(queues: list[QueueHealth]) -> dict[str, int | None]:
    """Waiting messages per queue (every queue of TRIAGE_QUEUES), as the broker reports them."""
    return {q.name: q.waiting for q in queues}


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
    queues = queue_health_list()
    return Health(
        provider=provider,
        model=settings.KIMI_MODEL if provider == "kimi" else "offline (TF-IDF)",
        cap_reached=cap_reached,
        balance=balance,
        day=day,
        cap_usd=costs.spend_cap_usd(),
        today=selectors.daily_run_stats(day=day),
        kimi_today=selectors.daily_run_stats(day=day, provider="kimi"),
        queue_sizes=_queue_sizes(queues),
        queues=queues,
        tickets_waiting={s: counts.get(s, 0) for s in (Ticket.Status.PROCESSING, Ticket.Status.TRIAGING)},
        max_concurrency=settings.KIMI_MAX_CONCURRENCY,
        max_rpm=settings.KIMI_MAX_RPM,
        in_flight=in_flight,
    )
