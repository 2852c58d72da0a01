"""Garbage on the wire from Kimi (or a gateway in front of it), served by the local fake over real
HTTP through the openai SDK: every answer becomes a TriageOutcome (a result, or an error kind the
service records: bad_output or upstream), never an exception and never a "bug"."""

from __future__ import annotations

import copy

import pytest

from tests.kimi_fake import BILLING_REPLY, chat_completion_body
from triage.adapters.llm.base import TicketInput
from triage.adapters.llm.kimi import KimiClient
from triage.taxonomy_defaults import taxonomy_from_rows

TAXONOMY = taxonomy_from_rows()


class _Lookup:
    def similar_tickets(self, *, query: str, limit: int) -> list[dict]:
        return [{"reference": "TRI-1", "subject": "x"}]

    def requester_tickets(self, *, limit: int) -> list[dict]:
        return []


def _body(**message: object) -> dict:
    body = chat_completion_body("{}")
    body["choices"][0]["message"].update(message)
    return body


def _tool_calls(*calls: dict) -> dict:
    body = _body(content="", tool_calls=list(calls))
    body["choices"][0]["finish_reason"] = "tool_calls"
    return body


def _with(path: tuple, value: object) -> dict:
    body = copy.deepcopy(chat_completion_body("{}"))
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


GARBAGE = {
    "no-choices": _with(("choices",), []),
    "choices-null": _with(("choices",), None),
    "message-null": _with(("choices", 0, "message"), None),
    "content-a-number": _body(content=12),
    "content-a-list": _body(content=[{"type": "text", "text": "hi"}]),
    "content-deep-json": _body(content="[" * 100_000),
    "content-5mb": _body(content="x" * 5_000_000),
    "usage-strings": _with(("usage",), {"prompt_tokens": "many", "completion_tokens": None}),
    "usage-negative": _with(("usage",), {"prompt_tokens": -5, "completion_tokens": -1, "total_tokens": -6}),
    "finish-reason-unknown": _with(("choices", 0, "finish_reason"), "exploded"),
    "top-level-list": [],
    "top-level-null": None,
    "tool-call-null-function": _tool_calls({"id": "c1", "type": "function", "function": None}),
    "tool-call-null-name-args": _tool_calls(
        {"id": "c1", "type": "function", "function": {"name": None, "arguments": None}}
    ),
    "tool-call-args-a-number": _tool_calls(
        {"id": "c1", "type": "function", "function": {"name": "find_similar_tickets", "arguments": 3}}
    ),
    "tool-call-deep-args": _tool_calls(
        {
            "id": "c1",
            "type": "function",
            "function": {"name": "find_similar_tickets", "arguments": "[" * 100_000},
        }
    ),
    "tool-call-unknown-tool": _tool_calls(
        {"id": "c1", "type": "function", "function": {"name": "rm_rf", "arguments": "{}"}}
    ),
    "tool-calls-not-a-list": _body(content="", tool_calls={"id": "c1"}),
}


@pytest.mark.parametrize("name", list(GARBAGE))
def test_garbage_from_the_api_is_an_outcome_never_an_exception(kimi_fake, name: str):
    kimi_fake.reply_body(GARBAGE[name])
    # whatever the garbage led to (a repair turn, a tool turn), the next answers are good ones
    for _ in range(4):
        kimi_fake.reply_json(BILLING_REPLY)
    client = KimiClient(
        api_key="sk-test", base_url=kimi_fake.base_url, timeout_s=10.0, max_retries=0, thinking="off"
    )
    ticket = TicketInput(
        ticket_id=7,
        subject="Charged twice",
        body="The invoice was charged twice.",
        requester="a@example.com",
        lookup=_Lookup(),
    )
    outcome = client.triage(ticket, TAXONOMY)
    assert outcome.error_kind in ("", "bad_output", "upstream"), (outcome.error_kind, outcome.error_message)
    assert outcome.ok == (outcome.result is not None)
    if not outcome.ok:
        assert outcome.error_message
