"""What model runs cost, and the daily spend cap that switches new tickets to the offline model.

Prices are USD per 1M tokens from settings.KIMI_PRICES_USD_PER_MTOK: [input cache hit, input cache
miss, output] (docs/kimi.md §8). Kimi counts cache hits inside prompt_tokens, so the miss part is
prompt_tokens - cached_tokens. Amounts are Decimal throughout: a day's total is a sum of thousands
of sub-cent figures and must match what the page shows to the cent.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.conf import settings

from triage import selectors

logger = logging.getLogger(__name__)

COST_QUANTUM = Decimal("0.000001")  # TriageRun.cost_usd has 6 decimal places
_PER_TOKEN = Decimal(1_000_000)
FREE_PROVIDERS = frozenset({"local"})


def _prices(model: str) -> tuple[Decimal, Decimal, Decimal]:
    table: dict[str, list[str]] = settings.KIMI_PRICES_USD_PER_MTOK
    row = table.get(model)
    if row is None:
        # An unknown Kimi model is priced like the dearest known one, so the spend cap errs on
        # the side of stopping early rather than overspending.
        logger.warning("no price for model %r in KIMI_PRICES_USD_PER_MTOK: using the dearest row", model)
        row = max(table.values(), key=lambda r: [Decimal(str(p)) for p in reversed(r)])
    hit, miss, output = (Decimal(str(p)) for p in row)
    return hit, miss, output


def run_cost_usd(
    *, provider: str, model: str, prompt_tokens: int, cached_tokens: int, completion_tokens: int
) -> Decimal:
    """The USD cost of one run's tokens (pure apart from reading the price table from settings)."""
    if provider in FREE_PROVIDERS or not (prompt_tokens or completion_tokens):
        return Decimal("0").quantize(COST_QUANTUM)
    hit_price, miss_price, output_price = _prices(model)
    cached = max(0, min(cached_tokens, prompt_tokens))  # a gateway reporting more hits than input
    cost = (cached * hit_price + (prompt_tokens - cached) * miss_price + completion_tokens * output_price) / (
        _PER_TOKEN
    )
    return cost.quantize(COST_QUANTUM)


def spend_cap_usd() -> Decimal:
    return Decimal(str(settings.KIMI_DAILY_SPEND_CAP_USD or 0))


def spend_cap_reached(*, day: dt.date | None = None) -> bool:
    """True when the Kimi runs of `day` (UTC, default today) cost at least the daily cap."""
    cap = spend_cap_usd()
    if cap <= 0:
        return False
    return selectors.daily_cost_usd(day=day, provider="kimi") >= cap
