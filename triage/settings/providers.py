"""The model that triages: Kimi (the API) or the offline model, and what each may cost.

The API facts behind the numbers (limits, prices, sizes) are cited from docs/kimi.md.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import environ

from triage.settings.base import DEBUG, VAR_DIR, env
from triage.settings.celery import CELERY_BROKER_URL

TRIAGE_PROVIDER = env.str("TRIAGE_PROVIDER", default="local")  # local | kimi
# Ticket text any model reads (Kimi, the offline classifiers, the language detector): newest
# message first, long bodies as head and tail (adapters/llm/text_budget.py). The ticket keeps all.
TRIAGE_MODEL_TEXT_CHARS = env.int("TRIAGE_MODEL_TEXT_CHARS", default=60_000)
# Personal data and secrets (docs/privacy.md): off | model (what leaves for an outside model is
# redacted: text to placeholders, screenshots and frames with solid boxes) | everywhere (also
# exports, the pages and the API for users without the "view sensitive data" permission).
TRIAGE_REDACT = env.str("TRIAGE_REDACT", default="off" if TRIAGE_PROVIDER == "local" else "model")
if TRIAGE_REDACT not in ("off", "model", "everywhere"):
    raise environ.ImproperlyConfigured("TRIAGE_REDACT must be off, model or everywhere")

# --- Kimi ---------------------------------------------------------------------------------------
KIMI_API_KEY = env.str("KIMI_API_KEY", default="")
if TRIAGE_PROVIDER == "kimi" and not DEBUG and not KIMI_API_KEY:
    raise environ.ImproperlyConfigured("TRIAGE_PROVIDER=kimi needs KIMI_API_KEY")
KIMI_BASE_URL = env.str("KIMI_BASE_URL", default="https://api.moonshot.ai/v1")
KIMI_MODEL = env.str("KIMI_MODEL", default="kimi-k2.6")
KIMI_TIMEOUT_S = env.float("KIMI_TIMEOUT_S", default=300.0)
KIMI_MAX_RETRIES = env.int("KIMI_MAX_RETRIES", default=3)
KIMI_MAX_COMPLETION_TOKENS = env.int("KIMI_MAX_COMPLETION_TOKENS", default=4096)
# A video up to this size goes inline as base64; a larger one is uploaded (files API, ms://<id>)
# and deleted after the call. The whole request must stay under 100 MB (docs/kimi.md §2).
KIMI_INLINE_VIDEO_MAX_BYTES = env.int("KIMI_INLINE_VIDEO_MAX_BYTES", default=8 * 1024 * 1024)
# Thinking: on | off | auto (auto: on for long or ambiguous tickets, see KimiClient.thinking_for).
KIMI_THINKING = env.str("KIMI_THINKING", default="auto")
KIMI_THINKING_MAX_COMPLETION_TOKENS = env.int("KIMI_THINKING_MAX_COMPLETION_TOKENS", default=16384)
KIMI_THINKING_AUTO_CHARS = env.int("KIMI_THINKING_AUTO_CHARS", default=1500)
KIMI_THINKING_AUTO_IMAGES = env.int("KIMI_THINKING_AUTO_IMAGES", default=6)
# Above 0, "auto" also asks the offline model first (~20-50 ms of CPU per ticket, under the GIL of
# the llm threads pool) and thinks when its lowest confidence is under this. Off by default: at 50
# concurrent requests that pre-pass, not Kimi, would bound the llm worker (bench/llm.py).
KIMI_THINKING_AUTO_CONFIDENCE = env.float("KIMI_THINKING_AUTO_CONFIDENCE", default=0.0)
# Tool rounds (similar tickets, the requester's tickets) before the model must answer.
KIMI_MAX_TOOL_STEPS = env.int("KIMI_MAX_TOOL_STEPS", default=3)
# Input tokens one request may take (Kimi's estimate); over it, the request is made smaller.
KIMI_TICKET_TOKEN_BUDGET = env.int("KIMI_TICKET_TOKEN_BUDGET", default=100_000)
# Requests with a video or at least this many images are measured with the token-estimate
# endpoint before they are sent (docs/kimi.md §4).
KIMI_ESTIMATE_MIN_IMAGES = env.int("KIMI_ESTIMATE_MIN_IMAGES", default=3)
# Task-level tries when Kimi stays down (each after the SDK's own retries), then the offline
# model's provisional result and manual triage.
KIMI_TASK_RETRIES = env.int("KIMI_TASK_RETRIES", default=3)
KIMI_TASK_RETRY_BACKOFF_S = env.int("KIMI_TASK_RETRY_BACKOFF_S", default=30)

# --- Kimi cost, spend cap and shared rate limits ------------------------------------------------
# USD per 1M tokens: [input cache hit, input cache miss, output] (docs/kimi.md §8). Cache hits are part
# of prompt_tokens. The offline model costs nothing. Override with a JSON object in the environment.
KIMI_PRICES_USD_PER_MTOK = env.json(
    "KIMI_PRICES_USD_PER_MTOK",
    default={"kimi-k2.6": ["0.16", "0.95", "4.00"], "kimi-k2.5": ["0.10", "0.60", "3.00"]},
)
# The same price table for the reports dashboard, whose cost is computed in SQL (local runs cost 0).
TRIAGE_PRICES = {
    model: {"cached_input": float(hit), "input": float(miss), "output": float(out)}
    for model, (hit, miss, out) in KIMI_PRICES_USD_PER_MTOK.items()
}
# Today's (UTC) summed cost of Kimi runs at or over this switches new tickets to the offline model
# and shows managers a banner. 0 = no cap.
KIMI_DAILY_SPEND_CAP_USD = Decimal(env.str("KIMI_DAILY_SPEND_CAP_USD", default="0"))
# Across every worker process (Redis when the broker is Redis; else per process): Tier 1 of
# docs/kimi.md §7. A held slot is a lease renewed while the call runs, so a killed worker frees
# its slots after KIMI_SLOT_LEASE_S.
KIMI_MAX_CONCURRENCY = env.int("KIMI_MAX_CONCURRENCY", default=50)
KIMI_MAX_RPM = env.int("KIMI_MAX_RPM", default=200)
KIMI_SLOT_LEASE_S = env.float("KIMI_SLOT_LEASE_S", default=30.0)
KIMI_SLOT_WAIT_S = env.float("KIMI_SLOT_WAIT_S", default=600.0)
KIMI_LIMITS_KEY_PREFIX = env.str("KIMI_LIMITS_KEY_PREFIX", default="triage:kimi")
# The Redis that holds counters shared by every process (Kimi slots, the login throttle).
TRIAGE_LIMITS_REDIS_URL = env.str(
    "TRIAGE_LIMITS_REDIS_URL",
    default=CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else "",
)

# --- The offline model --------------------------------------------------------------------------
# Language detector: low (trigrams plus function words for short texts, ~15 MB) | high (all of
# lingua's n-gram models, ~185 MB and 3-7 s on first use per worker; right on 2 more of 1,300 short
# labelled tickets). Trained classifier files live under TRIAGE_MODEL_DIR, never in git.
TRIAGE_LANGUAGE_ACCURACY = env.str("TRIAGE_LANGUAGE_ACCURACY", default="low")
TRIAGE_MODEL_DIR = Path(env.str("TRIAGE_MODEL_DIR", default=str(VAR_DIR / "models")))

# --- Auto-accept --------------------------------------------------------------------------------
# Off by default (0). A target accuracy such as 0.95 accepts a proposal with no person when, for
# EVERY triaged field, the offline model's confidence is in bands whose held-out accuracy reached
# the target (selectors/calibration.py); never before a trained, calibrated version. The decision
# is recorded as automatic.
TRIAGE_AUTO_ACCEPT_ACCURACY = env.float("TRIAGE_AUTO_ACCEPT_ACCURACY", default=0.0)
