from __future__ import annotations

import base64
import json
import socket
from dataclasses import replace

import httpx2
import openai
import pytest

from tests.kimi_fake import BILLING_REPLY, KimiFake, load_fixture
from triage.adapters.llm.base import ImagePart, TicketInput, TriageClient
from triage.adapters.llm.kimi import TRANSIENT_ERRORS, KimiClient
from triage.adapters.llm.prompt import PROMPT_VERSION, prompt_cache_key
from triage.adapters.llm.schema import SCHEMA_VERSION
from triage.taxonomy_defaults import taxonomy_from_rows

TAXONOMY = taxonomy_from_rows()
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))

GOOD = BILLING_REPLY
SAMPLING = ("temperature", "top_p", "n", "presence_penalty", "frequency_penalty")


def _ticket(**kw: object) -> TicketInput:
    defaults: dict = {
        "ticket_id": 7,
        "subject": "Rechnung doppelt abgebucht",
        "body": "Die Rechnung wurde zweimal abgebucht. Bitte erstatten.",
        "requester": "kunde@example.com",
    }
    return TicketInput(**{**defaults, **kw})


def _client(fake: KimiFake, **kw: object) -> KimiClient:
    options: dict = {"api_key": "sk-test", "base_url": fake.base_url, "timeout_s": 5.0, "max_retries": 0}
    return KimiClient(**{**options, **kw})


# --- request shape ------------------------------------------------------------------------------


def test_the_request_has_kimis_shape_and_no_fixed_sampling_parameters(kimi_fake):
    kimi_fake.reply_json(GOOD)
    ticket = _ticket(images=(ImagePart(data=PNG, mime="image/png", label="screenshot 'invoice.png'"),))
    outcome = _client(kimi_fake, max_completion_tokens=2048).triage(ticket, TAXONOMY)
    assert outcome.ok, outcome.error_message

    (body,) = kimi_fake.requests
    assert body["model"] == "kimi-k2.6"
    assert body["response_format"] == {"type": "json_object"}
    assert body["thinking"] == {"type": "disabled"}
    assert body["max_completion_tokens"] == 2048 and "max_tokens" not in body
    assert body["prompt_cache_key"] == prompt_cache_key(TAXONOMY)
    assert not set(SAMPLING) & set(body)
    assert "tool_choice" not in body and "stream" not in body
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    image_parts = [p for p in body["messages"][1]["content"] if p["type"] == "image_url"]
    (url,) = [p["image_url"]["url"] for p in image_parts]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == PNG
    assert kimi_fake.request_headers[0]["Authorization"] == "Bearer sk-test"


def test_two_tickets_share_the_system_prompt_and_the_prompt_cache_key(kimi_fake):
    kimi_fake.reply_json(GOOD)
    kimi_fake.reply_json(GOOD)
    client = _client(kimi_fake)
    client.triage(_ticket(ticket_id=1), TAXONOMY)
    client.triage(_ticket(ticket_id=2, subject="Other", body="Other body"), TAXONOMY)
    first, second = kimi_fake.requests
    assert first["messages"][0] == second["messages"][0]
    assert first["prompt_cache_key"] == second["prompt_cache_key"]
    key = first["prompt_cache_key"]
    assert PROMPT_VERSION in key
    assert not key.startswith("ticket-")


def test_a_taxonomy_change_changes_the_prompt_cache_key(kimi_fake):
    kimi_fake.reply_json(GOOD)
    kimi_fake.reply_json(GOOD)
    client = _client(kimi_fake)
    client.triage(_ticket(ticket_id=1), TAXONOMY)
    first = TAXONOMY.categories[0]
    edited = replace(
        TAXONOMY,
        categories=(replace(first, description=first.description + " (edited)"), *TAXONOMY.categories[1:]),
    )
    client.triage(_ticket(ticket_id=1), edited)
    before, after = kimi_fake.requests
    assert before["messages"][0] != after["messages"][0]  # the system prompt changed...
    assert before["prompt_cache_key"] != after["prompt_cache_key"]  # ...so the cache key did too
    assert after["prompt_cache_key"] == prompt_cache_key(edited)


def test_the_client_satisfies_the_triage_client_protocol(kimi_fake):
    client: TriageClient = _client(kimi_fake)
    assert client.provider == "kimi"


# --- answers ------------------------------------------------------------------------------------


def test_a_valid_reply_gives_an_ok_outcome_with_tokens_latency_and_trace_id(kimi_fake):
    kimi_fake.reply_fixture("triage_ok")
    outcome = _client(kimi_fake).triage(_ticket(), TAXONOMY)
    assert outcome.ok and outcome.error_kind == ""
    assert outcome.provider == "kimi" and outcome.model == "kimi-k2.6"
    assert outcome.prompt_version == f"{PROMPT_VERSION}+schema{SCHEMA_VERSION}"
    assert outcome.result is not None and outcome.result.category.value == "billing"
    assert (outcome.prompt_tokens, outcome.completion_tokens, outcome.cached_tokens) == (1480, 96, 1280)
    assert outcome.latency_ms >= 0
    assert outcome.extra["trace_id"] == "a3f9c2e1b7d04e5f"
    assert outcome.extra["requests"] == 1 and outcome.extra["repaired"] is False
    assert json.loads(outcome.raw_output)["category"]["value"] == "billing"


def test_cached_tokens_are_read_from_prompt_tokens_details_too(kimi_fake):
    kimi_fake.reply_fixture("triage_ok_prompt_tokens_details")
    outcome = _client(kimi_fake).triage(_ticket(), TAXONOMY)
    assert outcome.ok and outcome.cached_tokens == 1024


def test_reasoning_content_is_kept(kimi_fake):
    kimi_fake.reply_fixture("triage_with_reasoning")
    outcome = _client(kimi_fake).triage(_ticket(), TAXONOMY)
    assert outcome.ok and "double charge" in outcome.reasoning


def test_a_fenced_reply_with_labels_is_accepted_in_canonical_form(kimi_fake):
    kimi_fake.reply_fixture("triage_fenced_with_labels")
    outcome = _client(kimi_fake).triage(_ticket(), TAXONOMY)
    assert outcome.ok, outcome.error_message
    result = outcome.result
    assert result is not None
    assert (result.category.value, result.queue.value, result.language.value) == (
        "billing",
        "billing_team",
        "de",
    )


def test_a_malformed_reply_is_repaired_in_one_more_turn(kimi_fake):
    kimi_fake.reply_json("this is not json {", usage={"prompt_tokens": 1000, "completion_tokens": 10})
    kimi_fake.reply_json(GOOD, usage={"prompt_tokens": 1100, "completion_tokens": 90, "cached_tokens": 1000})
    outcome = _client(kimi_fake).triage(_ticket(), TAXONOMY)
    assert outcome.ok, outcome.error_message
    assert len(kimi_fake.requests) == 2
    repair = kimi_fake.requests[1]["messages"]
    assert repair[:2] == kimi_fake.requests[0]["messages"]
    assert repair[2] == {"role": "assistant", "content": "this is not json {"}
    assert repair[3]["role"] == "user" and "reply is not JSON" in repair[3]["content"]
    assert "corrected JSON object only" in repair[3]["content"]
    assert (outcome.prompt_tokens, outcome.completion_tokens, outcome.cached_tokens) == (2100, 100, 1000)
    assert outcome.extra["requests"] == 2 and outcome.extra["repaired"] is True
    assert kimi_fake.requests[1]["prompt_cache_key"] == kimi_fake.requests[0]["prompt_cache_key"]


def test_a_reply_that_stays_malformed_is_bad_output_with_the_raw_text_kept(kimi_fake):
    kimi_fake.reply_fixture("triage_truncated")
    kimi_fake.reply_json("still not json")
    outcome = _client(kimi_fake).triage(_ticket(), TAXONOMY)
    assert not outcome.ok and outcome.result is None
    assert outcome.error_kind == "bad_output"
    assert "reply is not JSON" in outcome.error_message
    assert "still not json" in outcome.raw_output and '"summary": "The customer' in outcome.raw_output
    assert "cut off at max_completion_tokens" in kimi_fake.requests[1]["messages"][3]["content"]
    assert outcome.completion_tokens == 4096 + 180


def test_a_value_outside_the_taxonomy_is_repaired(kimi_fake):
    kimi_fake.reply_fixture("triage_outside_taxonomy")
    kimi_fake.reply_json(GOOD)
    outcome = _client(kimi_fake).triage(_ticket(), TAXONOMY)
    assert outcome.ok and outcome.result is not None and outcome.result.category.value == "billing"
    quoted = kimi_fake.requests[1]["messages"][3]["content"]
    assert "category 'payments' is not in the taxonomy (allowed: bug, account_access" in quoted


def test_a_value_outside_the_taxonomy_twice_is_bad_output(kimi_fake):
    kimi_fake.reply_fixture("triage_outside_taxonomy")
    kimi_fake.reply_fixture("triage_outside_taxonomy")
    outcome = _client(kimi_fake).triage(_ticket(), TAXONOMY)
    assert outcome.error_kind == "bad_output" and outcome.result is None
    assert "category 'payments' is not in the taxonomy" in outcome.error_message


def test_a_moderated_answer_is_bad_input_without_a_repair_turn(kimi_fake):
    kimi_fake.reply_json("", finish_reason="content_filter")
    outcome = _client(kimi_fake).triage(_ticket(), TAXONOMY)
    assert outcome.error_kind == "bad_input" and "content_filter" in outcome.error_message
    assert len(kimi_fake.requests) == 1


# --- API errors ---------------------------------------------------------------------------------


def test_a_429_with_retry_after_is_retried_by_the_sdk_and_then_succeeds(kimi_fake):
    kimi_fake.reply_fixture("error_overloaded")  # Retry-After: 0
    kimi_fake.reply_json(GOOD)
    outcome = _client(kimi_fake, max_retries=2).triage(_ticket(), TAXONOMY)
    assert outcome.ok, outcome.error_message
    assert len(kimi_fake.requests) == 2
    assert outcome.extra["sdk_retries"] == 1 and outcome.extra["requests"] == 1


def test_an_exhausted_quota_is_upstream_and_not_retried(kimi_fake):
    # max_retries=3: the SDK would retry any 429; the client tells it not to for an empty balance.
    kimi_fake.reply_fixture("error_quota")
    kimi_fake.reply_json(GOOD)
    outcome = _client(kimi_fake, max_retries=3).triage(_ticket(), TAXONOMY)
    assert outcome.error_kind == "upstream" and outcome.result is None
    assert "exceeded_current_quota_error" in outcome.error_message
    assert "RateLimitError 429" in outcome.error_message
    assert "insufficient balance" in outcome.error_message
    assert outcome.extra["transient"] is False
    assert len(kimi_fake.requests) == 1 and kimi_fake.pending == 1


def test_rate_limits_that_persist_after_the_sdk_retries_are_upstream_and_transient(kimi_fake):
    for _ in range(3):
        kimi_fake.reply_fixture("error_rate_limit")  # retry-after-ms: 5
    outcome = _client(kimi_fake, max_retries=2).triage(_ticket(), TAXONOMY)
    assert outcome.error_kind == "upstream"
    assert "rate_limit_reached_error" in outcome.error_message
    assert outcome.extra["transient"] is True
    assert len(kimi_fake.requests) == 3


def test_server_errors_after_the_sdk_retries_are_upstream(kimi_fake):
    for _ in range(3):
        kimi_fake.reply_fixture("error_server")
    outcome = _client(kimi_fake, max_retries=2).triage(_ticket(), TAXONOMY)
    assert outcome.error_kind == "upstream" and outcome.result is None
    assert "InternalServerError 500 server_error" in outcome.error_message
    assert "invalid state transition" in outcome.error_message
    assert outcome.extra["transient"] is True and outcome.extra["trace_id"] == "a3f9c2e1b7d04e5f"
    assert len(kimi_fake.requests) == 3


def test_a_server_error_then_success_is_ok(kimi_fake):
    kimi_fake.reply_fixture("error_server")
    kimi_fake.reply_json(GOOD)
    outcome = _client(kimi_fake, max_retries=1).triage(_ticket(), TAXONOMY)
    assert outcome.ok and len(kimi_fake.requests) == 2


def test_a_slow_server_beyond_the_timeout_is_a_timeout(kimi_fake):
    kimi_fake.reply_slow(5.0, GOOD)
    outcome = _client(kimi_fake, timeout_s=0.5, max_retries=0).triage(_ticket(), TAXONOMY)
    assert outcome.error_kind == "timeout" and outcome.result is None
    assert "0.5 s" in outcome.error_message
    assert 400 <= outcome.latency_ms < 3000
    assert outcome.extra["transient"] is True


def test_an_unreachable_server_is_upstream(kimi_fake):
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = KimiClient(api_key="sk-test", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0, timeout_s=2)
    outcome = client.triage(_ticket(), TAXONOMY)
    assert outcome.error_kind == "upstream" and "could not reach the Kimi API" in outcome.error_message


@pytest.mark.parametrize(
    ("fixture", "kind", "fragment"),
    [
        ("error_content_filter", "bad_input", "content_filter"),
        ("error_token_limit", "bad_input", "exceeded model token limit"),
        ("error_auth", "upstream", "authentication failed"),
        ("error_permission", "upstream", "permission denied"),
    ],
)
def test_client_side_errors_are_mapped_and_not_retried(kimi_fake, fixture, kind, fragment):
    kimi_fake.reply_fixture(fixture)
    outcome = _client(kimi_fake, max_retries=3).triage(_ticket(), TAXONOMY)
    assert outcome.error_kind == kind and outcome.result is None
    assert fragment in outcome.error_message
    assert load_fixture(fixture)["body"]["error"]["type"] in outcome.error_message
    assert outcome.extra["transient"] is False
    assert len(kimi_fake.requests) == 1


def test_an_unknown_model_is_upstream_with_a_clear_message(kimi_fake):
    outcome = _client(kimi_fake, model="kimi-k9").triage(_ticket(), TAXONOMY)
    assert outcome.error_kind == "upstream"
    assert "model 'kimi-k9' not found" in outcome.error_message
    assert "resource_not_found_error" in outcome.error_message


def test_a_200_that_is_not_a_chat_completion_is_not_a_crash(kimi_fake):
    kimi_fake.reply_body({"unexpected": True})
    outcome = _client(kimi_fake).triage(_ticket(), TAXONOMY)
    assert outcome.error_kind == "upstream" and "without choices" in outcome.error_message
    assert len(kimi_fake.requests) == 1  # no repair turn: the model did not write this


@pytest.mark.parametrize("content_type", ["text/html", "application/json"])
def test_a_gateway_page_instead_of_json_is_upstream(kimi_fake, content_type):
    kimi_fake.reply_text("<html><body>502 Bad Gateway</body></html>", content_type=content_type)
    outcome = _client(kimi_fake).triage(_ticket(), TAXONOMY)
    assert outcome.error_kind == "upstream" and "unexpected answer from the Kimi API" in outcome.error_message
    assert len(kimi_fake.requests) == 1


def test_transient_errors_are_the_retryable_sdk_exceptions():
    assert openai.APITimeoutError in TRANSIENT_ERRORS and openai.APIConnectionError in TRANSIENT_ERRORS
    assert openai.RateLimitError in TRANSIENT_ERRORS and openai.InternalServerError in TRANSIENT_ERRORS
    assert openai.BadRequestError not in TRANSIENT_ERRORS
    assert openai.AuthenticationError not in TRANSIENT_ERRORS


# --- the fake refuses what Kimi refuses ---------------------------------------------------------


def _raw_post(fake: KimiFake, body: dict, *, auth: str | None = "Bearer sk-test") -> httpx2.Response:
    headers = {"Authorization": auth} if auth else {}
    return httpx2.post(f"{fake.base_url}/chat/completions", json=body, headers=headers, timeout=5)


def _body(**extra: object) -> dict:
    return {"model": "kimi-k2.6", "messages": [{"role": "user", "content": "hi"}], **extra}


@pytest.mark.parametrize("name", SAMPLING)
def test_the_fake_rejects_fixed_sampling_parameters(kimi_fake, name):
    kimi_fake.reply_json(GOOD)
    response = _raw_post(kimi_fake, _body(**{name: 1}))
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert name in response.json()["error"]["message"]
    assert kimi_fake.pending == 1  # the scripted answer was not consumed


def test_the_fake_rejects_a_forced_tool_choice_when_thinking_is_on_by_default(kimi_fake):
    tools = [{"type": "function", "function": {"name": "file_ticket", "parameters": {"type": "object"}}}]
    response = _raw_post(kimi_fake, _body(tools=tools, tool_choice="required"))
    assert response.status_code == 400
    assert "incompatible with thinking enabled" in response.json()["error"]["message"]
    kimi_fake.reply_json(GOOD)
    allowed = _raw_post(kimi_fake, _body(tools=tools, tool_choice="required", thinking={"type": "disabled"}))
    assert allowed.status_code == 200


def test_the_fake_rejects_http_image_urls(kimi_fake):
    content = [{"type": "image_url", "image_url": {"url": "https://example.com/shot.png"}}]
    response = _raw_post(kimi_fake, _body(messages=[{"role": "user", "content": content}]))
    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"


def test_the_fake_rejects_unknown_models_and_missing_auth(kimi_fake):
    not_found = _raw_post(kimi_fake, _body(model="moonshot-v1-8k"))
    assert not_found.status_code == 404
    assert not_found.json()["error"]["type"] == "resource_not_found_error"
    unauthorized = _raw_post(kimi_fake, _body(), auth=None)
    assert unauthorized.status_code == 401
    assert unauthorized.json()["error"]["type"] == "invalid_authentication_error"


def test_the_fake_accepts_a_valid_request_and_speaks_the_wire_format(kimi_fake):
    kimi_fake.reply_json(GOOD, reasoning="thought")
    response = _raw_post(kimi_fake, _body(thinking={"type": "disabled"}))
    assert response.status_code == 200 and response.headers["x-trace-id"]
    body = response.json()
    assert body["object"] == "chat.completion" and body["choices"][0]["finish_reason"] == "stop"
    assert body["choices"][0]["message"]["reasoning_content"] == "thought"
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert "cached_tokens" in usage
    assert kimi_fake.requests == [_body(thinking={"type": "disabled"})]
