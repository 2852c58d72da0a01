"""Kimi account reads: the balance (`GET {base}/users/me/balance`, docs/kimi.md §4 and §9).

Pure adapter: an `openai.OpenAI` client in (or a key and base URL), a frozen value out. Nothing
raises: a page that shows the balance must still render when the API is down or the key is wrong,
so every failure comes back as `Balance.error`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import openai

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (openai.APITimeoutError, openai.APIConnectionError)


@dataclass(frozen=True)
class Balance:
    ok: bool
    available: Decimal | None = None  # inference fails when this is <= 0
    voucher: Decimal | None = None
    cash: Decimal | None = None  # may go negative; then available = voucher
    currency: str = "USD"  # USD on platform .ai, CNY on .cn
    error: str = ""


def _currency(base_url: str) -> str:
    return "CNY" if ".cn" in base_url.split("//", 1)[-1].split("/", 1)[0] else "USD"


def _amount(data: dict[str, Any], key: str) -> Decimal | None:
    value = data.get(key)
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def balance_get(
    *,
    client: openai.OpenAI | None = None,
    api_key: str = "",
    base_url: str = "",
    timeout_s: float = 10.0,
) -> Balance:
    """The account balance, or why it could not be read. No retries: a health page asks again."""
    if client is None:
        if not api_key:
            return Balance(ok=False, error="no Kimi API key configured (KIMI_API_KEY)")
        client = openai.OpenAI(api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=0)
    currency = _currency(str(client.base_url))
    try:
        payload = client.get("/users/me/balance", cast_to=object)
    except openai.APIStatusError as exc:
        body: Any = exc.body
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            body = body["error"]
        message = body.get("message") if isinstance(body, dict) else None
        kind = body.get("type") if isinstance(body, dict) else None
        detail = f"{kind}: {message}" if kind and message else (message or exc.message)
        return Balance(ok=False, currency=currency, error=f"HTTP {exc.status_code}: {detail}"[:300])
    except openai.APITimeoutError:
        return Balance(ok=False, currency=currency, error="the balance request timed out")
    except openai.APIConnectionError as exc:
        return Balance(
            ok=False, currency=currency, error=f"could not reach Kimi ({exc.__cause__ or exc})"[:300]
        )
    except openai.APIResponseValidationError as exc:
        return Balance(ok=False, currency=currency, error=f"unreadable answer: {exc}"[:300])
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict) or _amount(data, "available_balance") is None:
        return Balance(ok=False, currency=currency, error=f"unexpected answer: {str(payload)[:200]}")
    return Balance(
        ok=True,
        available=_amount(data, "available_balance"),
        voucher=_amount(data, "voucher_balance"),
        cash=_amount(data, "cash_balance"),
        currency=currency,
    )
