from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests.kimi_fake import BILLING_REPLY
from triage import selectors
from triage.models import Ticket, TriageRun
from triage.services import costs, triage
from triage.services.llm_limits import LimitedClient


def _cost(**kw) -> Decimal:
    args = {"provider": "kimi", "model": "kimi-k2.6", "prompt_tokens": 0, "cached_tokens": 0}
    return costs.run_cost_usd(**{**args, "completion_tokens": 0, **kw})


def test_cost_prices_cache_hits_misses_and_output_separately():
    # 1M each: a miss costs 0.95, a hit 0.16, an output token 4.00 (docs/kimi.md §8)
    assert _cost(prompt_tokens=1_000_000) == Decimal("0.95")
    assert _cost(prompt_tokens=1_000_000, cached_tokens=1_000_000) == Decimal("0.16")
    assert _cost(completion_tokens=1_000_000) == Decimal("4.00")
    # cache hits are part of prompt_tokens: 1200 in (512 cached), 180 out
    expected = (Decimal(512) * Decimal("0.16") + Decimal(688) * Decimal("0.95") + 180 * Decimal(4)) / 10**6
    assert _cost(prompt_tokens=1200, cached_tokens=512, completion_tokens=180) == expected.quantize(
        costs.COST_QUANTUM
    )


def test_cost_uses_each_models_row_and_the_offline_model_is_free():
    k25 = _cost(model="kimi-k2.5", prompt_tokens=2_000_000, cached_tokens=1_000_000, completion_tokens=10**6)
    assert k25 == Decimal("0.10") + Decimal("0.60") + Decimal("3.00")
    assert _cost(provider="local", model="tfidf", prompt_tokens=5000, completion_tokens=500) == 0


def test_cost_of_an_unknown_model_errs_high_and_over_reported_hits_are_clamped():
    assert _cost(model="kimi-k9", prompt_tokens=10**6) == Decimal("0.95")
    assert _cost(prompt_tokens=1000, cached_tokens=5000) == _cost(prompt_tokens=1000, cached_tokens=1000)


def test_price_table_comes_from_settings(settings):
    settings.KIMI_PRICES_USD_PER_MTOK = {"kimi-k2.6": ["1", "2", "3"]}
    assert _cost(prompt_tokens=10**6, cached_tokens=10**6 // 2, completion_tokens=10**6) == Decimal("4.5")


def _run(ticket: Ticket, *, cost: str, provider: str = "kimi", when: dt.datetime | None = None) -> TriageRun:
    run = TriageRun.objects.create(
        ticket=ticket, provider=provider, model="kimi-k2.6", cost_usd=Decimal(cost)
    )
    if when is not None:
        TriageRun.objects.filter(id=run.id).update(started_at=when)
    return run


@pytest.mark.django_db
def test_per_ticket_and_per_utc_day_sums():
    a = Ticket.objects.create(subject="a")
    b = Ticket.objects.create(subject="b")
    day = dt.date(2026, 3, 10)
    midnight = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
    _run(a, cost="0.001500", when=midnight)
    _run(a, cost="0.002000", when=midnight + dt.timedelta(hours=23, minutes=59))
    _run(b, cost="0.010000", when=midnight - dt.timedelta(seconds=1))  # the day before
    _run(b, cost="0", provider="local", when=midnight + dt.timedelta(hours=1))
    assert selectors.ticket_cost_usd(ticket_id=a.id) == Decimal("0.0035")
    assert selectors.ticket_cost_usd(ticket_id=b.id) == Decimal("0.01")
    assert selectors.daily_cost_usd(day=day) == Decimal("0.0035")
    stats = selectors.daily_run_stats(day=day)
    assert (stats.runs, stats.cost_usd) == (3, Decimal("0.0035"))
    assert selectors.daily_run_stats(day=day, provider="kimi").runs == 2
    assert selectors.daily_cost_usd(day=day - dt.timedelta(days=1)) == Decimal("0.01")
    assert selectors.daily_cost_usd(day=dt.date(2020, 1, 1)) == 0


@pytest.mark.django_db
def test_spend_cap_counts_only_todays_kimi_runs(settings):
    ticket = Ticket.objects.create(subject="a")
    settings.KIMI_DAILY_SPEND_CAP_USD = Decimal("0")
    _run(ticket, cost="5")
    assert not costs.spend_cap_reached()  # 0 = no cap
    settings.KIMI_DAILY_SPEND_CAP_USD = Decimal("10")
    assert not costs.spend_cap_reached()
    _run(ticket, cost="100", provider="local")
    _run(ticket, cost="100", when=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    assert not costs.spend_cap_reached()
    _run(ticket, cost="5")
    assert costs.spend_cap_reached()
    assert not costs.spend_cap_reached(day=dt.date(2020, 1, 1))


@pytest.fixture
def kimi(settings, kimi_fake):
    settings.TRIAGE_PROVIDER = "kimi"
    settings.KIMI_API_KEY = "sk-test"
    settings.KIMI_BASE_URL = kimi_fake.base_url
    settings.KIMI_MAX_RETRIES = 1
    settings.KIMI_TIMEOUT_S = 2.0
    return kimi_fake


@pytest.mark.django_db
def test_a_kimi_run_records_its_cost(taxonomy, kimi):
    kimi.reply_json(
        BILLING_REPLY, usage={"prompt_tokens": 3000, "cached_tokens": 1000, "completion_tokens": 200}
    )
    ticket = Ticket.objects.create(subject="Rechnung doppelt", description="zweimal", status="TRIAGING")
    run = triage.ticket_triage(ticket_id=ticket.id)
    run.refresh_from_db()
    assert run.status == TriageRun.Status.DONE, run.error_message
    assert run.cost_usd == costs.run_cost_usd(
        provider="kimi", model="kimi-k2.6", prompt_tokens=3000, cached_tokens=1000, completion_tokens=200
    )
    assert run.cost_usd > 0
    assert selectors.ticket_cost_usd(ticket_id=ticket.id) == run.cost_usd


@pytest.mark.django_db
def test_over_the_cap_new_tickets_go_to_the_offline_model(taxonomy, kimi, settings, caplog):
    assert isinstance(triage.triage_client_get(), LimitedClient)
    settings.KIMI_DAILY_SPEND_CAP_USD = Decimal("0.50")
    ticket = Ticket.objects.create(subject="x")
    _run(ticket, cost="0.50")
    client = triage.triage_client_get()
    assert client.provider == "local"
    assert "spend cap of $0.50 reached" in caplog.text
    assert triage.triage_client_get(provider="local").provider == "local"
