"""Model-reply parsing on hostile replies: a validated TriageResult inside the taxonomy, or
InvalidReply with a message (the Kimi client turns it into a repair turn, then bad_output).
Tool calls with garbage arguments get an error object back for the model, never an exception."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.hostile import strategies as hs
from tests.hostile.targets import TAXONOMY, reply_target, tool_call_target
from triage.adapters.llm.schema import InvalidReply, parse_triage_reply
from triage.adapters.llm.tools import run_tool


def test_the_valid_reply_the_strategies_start_from_parses():
    # the mutations start from a reply that is accepted: a broken base would make the test vacuous
    assert reply_target(json.dumps(hs.VALID_REPLY)).ok


@settings(max_examples=400)
@given(hs.model_replies())
def test_any_reply_is_a_result_in_the_taxonomy_or_a_clear_invalid_reply(text: str):
    reply_target(text)


@settings(max_examples=200)
@given(hs.json_values)
def test_arbitrary_json_is_a_result_or_a_clear_invalid_reply(value: object):
    reply_target(json.dumps(value, allow_nan=True))


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,
        '{"a":' * 100_000,
        '{"summary": "x", "category": ' + "[" * 50_000 + "]" * 50_000 + "}",
        "Sure: " + "{" * 100_000 + "}" * 100_000,
    ],
    ids=["array", "object", "inside-a-field", "braces-in-prose"],
)
def test_deeply_nested_json_is_an_invalid_reply_not_a_recursion_error(text: str):
    with pytest.raises(InvalidReply, match="not JSON|nested|schema"):
        parse_triage_reply(text, taxonomy=TAXONOMY)


@settings(max_examples=300)
@given(
    st.sampled_from(("find_similar_tickets", "requester_recent_tickets", "", "x" * 300))
    | st.text(max_size=40),
    st.one_of(st.text(max_size=200), hs.json_values.map(json.dumps), st.just("[" * 100_000)),
)
@example("find_similar_tickets", '{"query": "checkout", "limit": 1e308}')
@example("find_similar_tickets", '{"query": "checkout", "limit": 99999999999999999999999}')
@example("requester_recent_tickets", "null")
def test_tool_calls_with_garbage_always_answer_the_model(name: str, arguments: str):
    tool_call_target(name, arguments)


def test_deeply_nested_tool_arguments_are_an_error_for_the_model():
    assert "error" in run_tool(object(), name="find_similar_tickets", arguments="[" * 100_000)  # type: ignore[arg-type]
