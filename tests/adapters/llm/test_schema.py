from __future__ import annotations

import json

import pytest

from tests.kimi_fake import BILLING_REPLY
from triage.adapters.llm.schema import (
    InvalidReply,
    TriageResult,
    parse_triage_reply,
    result_json_example,
    result_json_schema,
)
from triage.fields import CLASSIFIED_FIELDS
from triage.taxonomy_defaults import taxonomy_from_rows

TAXONOMY = taxonomy_from_rows()

GOOD = BILLING_REPLY


def _reply(**changes: object) -> str:
    return json.dumps({**GOOD, **changes})


def test_a_valid_reply_parses_into_a_triage_result():
    result = parse_triage_reply(json.dumps(GOOD), taxonomy=TAXONOMY)
    assert isinstance(result, TriageResult)
    assert (result.category.value, result.queue.value, result.language.value) == (
        "billing",
        "billing_team",
        "de",
    )
    assert result.min_confidence == pytest.approx(0.66)


def test_a_json_fence_and_surrounding_prose_are_tolerated():
    fenced = "Here is the triage:\n```json\n" + json.dumps(GOOD, indent=2) + "\n```\nHope this helps."
    assert parse_triage_reply(fenced, taxonomy=TAXONOMY).category.value == "billing"
    prose = "Sure! " + json.dumps(GOOD) + " Let me know."
    assert parse_triage_reply(prose, taxonomy=TAXONOMY).queue.value == "billing_team"


def test_values_are_matched_case_insensitively_and_labels_map_to_their_value():
    text = _reply(
        category={"value": "BILLING", "confidence": 0.9},
        queue={"value": "Billing team", "confidence": 0.8},  # the label, not the value
        priority={"value": " High ", "confidence": 0.7},
        sentiment={"value": "Negative", "confidence": 0.6},
        language={"value": "DE", "confidence": 0.9},
    )
    result = parse_triage_reply(text, taxonomy=TAXONOMY)
    assert (result.category.value, result.queue.value, result.priority.value) == (
        "billing",
        "billing_team",
        "high",
    )
    assert (result.sentiment.value, result.language.value) == ("negative", "de")


def test_a_label_with_punctuation_maps_to_its_value():
    text = _reply(category={"value": "Account & login", "confidence": 0.8})
    assert parse_triage_reply(text, taxonomy=TAXONOMY).category.value == "account_access"


def test_a_category_outside_the_taxonomy_is_rejected_with_the_allowed_values():
    with pytest.raises(InvalidReply) as caught:
        parse_triage_reply(_reply(category={"value": "astrology", "confidence": 0.9}), taxonomy=TAXONOMY)
    message = str(caught.value)
    assert message.startswith("category 'astrology' is not in the taxonomy (allowed: ")
    assert "billing" in message and "account_access" in message


@pytest.mark.parametrize("field", ["priority", "queue", "sentiment"])
def test_every_classified_field_is_checked_against_the_taxonomy(field):
    with pytest.raises(InvalidReply, match=rf"^{field} 'made-up' is not in the taxonomy"):
        parse_triage_reply(_reply(**{field: {"value": "made-up", "confidence": 0.5}}), taxonomy=TAXONOMY)


@pytest.mark.parametrize("text", ["", "   ", "this is not json {", "{'summary': 'single quotes'}"])
def test_text_that_is_not_json_is_rejected(text):
    with pytest.raises(InvalidReply, match=r"^reply is not JSON: "):
        parse_triage_reply(text, taxonomy=TAXONOMY)


def test_a_json_array_is_rejected():
    with pytest.raises(InvalidReply, match="must be a JSON object"):
        parse_triage_reply(json.dumps([GOOD]), taxonomy=TAXONOMY)


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"category": {"value": "billing", "confidence": 1.4}}, "category.confidence"),
        ({"category": {"value": "billing", "confidence": -0.1}}, "category.confidence"),
        ({"category": "billing"}, "category"),
        ({"summary": ""}, "summary"),
    ],
)
def test_schema_violations_name_the_field(changes, fragment):
    with pytest.raises(InvalidReply, match="does not match the schema") as caught:
        parse_triage_reply(_reply(**changes), taxonomy=TAXONOMY)
    assert fragment in str(caught.value)


def test_a_missing_field_is_reported():
    data = {k: v for k, v in GOOD.items() if k != "queue"}
    with pytest.raises(InvalidReply, match="queue: Field required"):
        parse_triage_reply(json.dumps(data), taxonomy=TAXONOMY)


def test_a_nan_confidence_is_rejected():
    text = json.dumps(GOOD).replace('"confidence": 0.93', '"confidence": NaN')
    with pytest.raises(InvalidReply, match="category.confidence"):
        parse_triage_reply(text, taxonomy=TAXONOMY)


def test_a_blank_summary_is_rejected():
    with pytest.raises(InvalidReply, match="summary must not be blank"):
        parse_triage_reply(_reply(summary="   "), taxonomy=TAXONOMY)


@pytest.mark.parametrize("language", ["english", "en-US", "e", "12"])
def test_language_must_be_a_two_letter_code(language):
    with pytest.raises(InvalidReply, match=rf"language '{language}' must be a two-letter ISO 639-1 code"):
        parse_triage_reply(_reply(language={"value": language, "confidence": 0.9}), taxonomy=TAXONOMY)


def test_unknown_extra_keys_are_ignored():
    result = parse_triage_reply(_reply(reasoning="because", tags=["x"]), taxonomy=TAXONOMY)
    assert "reasoning" not in result.model_dump()


def test_the_example_shown_to_the_model_is_itself_a_valid_reply():
    result = parse_triage_reply(result_json_example(TAXONOMY), taxonomy=TAXONOMY)
    assert result.category.value == TAXONOMY.categories[0].value


def test_the_json_schema_describes_every_field_and_lists_the_taxonomy_values():
    schema = result_json_schema(TAXONOMY)
    assert set(schema["required"]) == {"summary", *CLASSIFIED_FIELDS}
    assert schema["properties"]["category"]["properties"]["value"]["enum"] == list(
        TAXONOMY.values("category")
    )
    assert schema["properties"]["queue"]["properties"]["value"]["enum"] == list(TAXONOMY.values("queue"))
    confidence = schema["properties"]["priority"]["properties"]["confidence"]
    assert (confidence["minimum"], confidence["maximum"]) == (0, 1)
    assert "enum" not in result_json_schema()["properties"]["category"]["properties"]["value"]
    json.dumps(schema)  # serializable as sent to a json_schema response_format
