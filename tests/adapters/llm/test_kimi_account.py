from __future__ import annotations

import json
import socket
from decimal import Decimal

import openai
from werkzeug import Response

from triage.adapters.llm.kimi_account import Balance, balance_get

BALANCE = {
    "code": 0,
    "data": {"available_balance": 49.58894, "voucher_balance": 46.58893, "cash_balance": 3.00001},
    "scode": "0x0",
    "status": True,
}


def _serve(kimi_fake, *, status: int = 200, body: object = BALANCE, content_type="application/json"):
    seen: list[dict[str, str]] = []

    def handler(request):
        seen.append(dict(request.headers))
        data = body if isinstance(body, str) else json.dumps(body)
        return Response(data, status=status, content_type=content_type)

    kimi_fake.server.expect_request("/v1/users/me/balance", method="GET").respond_with_handler(handler)
    return seen


def test_balance_is_read_through_the_sdk_client(kimi_fake):
    seen = _serve(kimi_fake)
    client = openai.OpenAI(api_key="sk-test", base_url=kimi_fake.base_url, max_retries=0)
    balance = balance_get(client=client)
    assert balance == Balance(
        ok=True,
        available=Decimal("49.58894"),
        voucher=Decimal("46.58893"),
        cash=Decimal("3.00001"),
        currency="USD",
    )
    assert seen[0]["Authorization"] == "Bearer sk-test"


def test_balance_from_key_and_url_and_currency_from_the_platform(kimi_fake):
    _serve(kimi_fake)
    assert balance_get(api_key="sk-test", base_url=kimi_fake.base_url).available == Decimal("49.58894")
    assert balance_get(api_key="", base_url=kimi_fake.base_url).error.startswith("no Kimi API key")


def test_a_refused_key_is_reported_not_raised(kimi_fake):
    _serve(
        kimi_fake,
        status=401,
        body={"error": {"type": "invalid_authentication_error", "message": "Invalid Authentication"}},
    )
    balance = balance_get(api_key="sk-wrong", base_url=kimi_fake.base_url)
    assert not balance.ok and balance.available is None
    assert balance.error == "HTTP 401: invalid_authentication_error: Invalid Authentication"


def test_an_unexpected_answer_is_reported(kimi_fake):
    _serve(kimi_fake, body="<html>gateway</html>", content_type="text/html")
    balance = balance_get(api_key="sk-test", base_url=kimi_fake.base_url)
    assert not balance.ok and "unexpected answer" in balance.error
    kimi_fake.server.clear_all_handlers()
    _serve(kimi_fake, body={"code": 0, "data": {}})
    assert "unexpected answer" in balance_get(api_key="sk-test", base_url=kimi_fake.base_url).error


def test_an_unreachable_api_is_reported():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    balance = balance_get(api_key="sk-test", base_url=f"http://127.0.0.1:{port}/v1", timeout_s=2)
    assert not balance.ok and "could not reach Kimi" in balance.error
