"""The triage result contract shared by every provider, and the parser for model replies.

A reply is accepted only when it is a JSON object of the documented shape AND every classified
value is one of the taxonomy's values: the model never gets to invent a category.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from triage.fields import CLASSIFIED, CLASSIFIED_FIELDS, TAXONOMY_FIELDS

if TYPE_CHECKING:
    from triage.adapters.llm.base import Taxonomy, TaxonomyEntry

SCHEMA_VERSION = "2"


class FieldGuess(BaseModel):
    # allow_inf_nan=False: Python's json module accepts NaN, and a NaN confidence would sort
    # unpredictably in the review queue.
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    value: str = Field(min_length=1, max_length=64)
    confidence: float = Field(ge=0.0, le=1.0)
    # what the value rests on: "subject", "body", "screenshot 'x.png'", "frame at 00:01:23 of 'rec.mp4'"
    source: str = Field(default="", max_length=200)


class Claim(BaseModel):
    """One statement about the ticket and the part of the ticket it rests on."""

    model_config = ConfigDict(extra="ignore")

    text: str = Field(min_length=1, max_length=2000)
    source: str = Field(min_length=1, max_length=200)


class DuplicateGuess(BaseModel):
    """An earlier ticket this one probably repeats, as found with the find_similar_tickets tool."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    reference: str = Field(pattern=r"^TRI-\d{1,12}$")
    confidence: float = Field(ge=0.0, le=1.0)


class _Summary(BaseModel):
    model_config = ConfigDict(extra="ignore")

    summary: str = Field(min_length=1, max_length=4000)


# One FieldGuess per classified field (triage/fields.py), after the summary, in the declared order.
_GUESSES: dict[str, Any] = {f.name: (FieldGuess, ...) for f in CLASSIFIED}
_Guesses = create_model("_Guesses", __base__=_Summary, **_GUESSES)

if TYPE_CHECKING:
    # The fields made above are invisible to the type checker: to it each is a FieldGuess, and the
    # constructor takes them as keywords (pydantic validates them when it runs).
    class _GuessesBase(_Summary):
        def __init__(self, **data: Any) -> None: ...

        def __getattr__(self, name: str) -> FieldGuess: ...

else:
    _GuessesBase = _Guesses


class TriageResult(_GuessesBase):
    # Empty when the ticket does not say (and always from the offline model, which reads no steps).
    problem: Claim | None = None
    steps_to_reproduce: list[Claim] = Field(default_factory=list, max_length=30)
    expected: Claim | None = None
    actual: Claim | None = None
    environment: list[Claim] = Field(default_factory=list, max_length=20)
    error_messages: list[Claim] = Field(default_factory=list, max_length=30)
    duplicate_of: list[DuplicateGuess] = Field(default_factory=list, max_length=5)

    @property
    def min_confidence(self) -> float:
        return min(getattr(self, name).confidence for name in CLASSIFIED_FIELDS)


class InvalidReply(Exception):
    """The model's answer is not a valid triage result; the message is quoted back to it once."""


_LANGUAGE = re.compile(r"^[a-z]{2}$")
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)\s*```", re.DOTALL)
_SEPARATORS = re.compile(r"[\s\-/&]+")


_TOO_DEEP = "reply is not JSON we accept: nested too deeply"


def _extract_json(text: str) -> dict:
    stripped = text.strip()
    if not stripped:
        raise InvalidReply("reply is not JSON: the reply is empty")
    if (fenced := _FENCE.search(stripped)) is not None:
        stripped = fenced.group(1)
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError as exc:
        # Tolerate prose around the object ("Here is the JSON: {...}"); the outermost braces win.
        start, end = stripped.find("{"), stripped.rfind("}")
        if start < 0 or end <= start:
            raise InvalidReply(f"reply is not JSON: {exc.msg} at position {exc.pos}") from None
        try:
            data = json.loads(stripped[start : end + 1])
        except json.JSONDecodeError as inner:
            raise InvalidReply(f"reply is not JSON: {inner.msg} at position {inner.pos}") from None
        except RecursionError:
            raise InvalidReply(_TOO_DEEP) from None
    except RecursionError:
        # json's decoder recurses once per level: "[[[[..." 100,000 deep is a RecursionError (found
        # by tests/hostile), which would escape as a bug instead of a repair turn.
        raise InvalidReply(_TOO_DEEP) from None
    if not isinstance(data, dict):
        raise InvalidReply(f"reply must be a JSON object, got {type(data).__name__}")
    return data


def _key(text: str) -> str:
    """Comparison key: case, spacing and separators do not matter ("Account access" ~ account_access)."""
    return _SEPARATORS.sub("_", text.strip().lower()).strip("_")


def _canonical(wanted: str, entries: tuple[TaxonomyEntry, ...]) -> str | None:
    key = _key(wanted)
    # Values first: a label that happens to equal another entry's value must not shadow it.
    for entry in entries:
        if _key(entry.value) == key:
            return entry.value
    for entry in entries:
        if _key(entry.label) == key:
            return entry.value
    return None


def parse_triage_reply(text: str, *, taxonomy: Taxonomy) -> TriageResult:
    """Parse and validate a model reply against the schema and the taxonomy. Raises InvalidReply.

    Values are returned in their canonical spelling: case-insensitive matches and labels given
    instead of values are mapped to the taxonomy value; the language code is lower-cased.
    """
    data = _extract_json(text)
    try:
        result = TriageResult.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()[:6]
        )
        raise InvalidReply(f"reply does not match the schema: {problems}") from None
    summary = result.summary.strip()
    if not summary:
        raise InvalidReply("summary must not be blank")
    updates: dict[str, object] = {"summary": summary}
    for name in TAXONOMY_FIELDS:
        guess: FieldGuess = getattr(result, name)
        options = taxonomy.entries(name)
        match = _canonical(guess.value, options)
        if match is None:
            allowed = ", ".join(e.value for e in options)
            raise InvalidReply(f"{name} '{guess.value}' is not in the taxonomy (allowed: {allowed})")
        updates[name] = FieldGuess(value=match, confidence=guess.confidence, source=guess.source)
    language = result.language.value.strip().lower()
    if not _LANGUAGE.match(language):
        raise InvalidReply(
            f"language '{result.language.value}' must be a two-letter ISO 639-1 code such as 'en' or 'de'"
        )
    updates["language"] = FieldGuess(
        value=language, confidence=result.language.confidence, source=result.language.source
    )
    return result.model_copy(update=updates)


def result_json_schema(taxonomy: Taxonomy | None = None) -> dict:
    """The JSON shape described to the model, as JSON Schema.

    With a taxonomy the classified fields carry `enum`s of its values, which is what a
    `json_schema` response_format would need; the prompt currently shows `result_json_example`
    (JSON mode) because json_schema is only third-party verified on Kimi (docs/kimi.md §6).
    """

    def guess(description: str, values: tuple[str, ...] | None = None) -> dict:
        value: dict = {"type": "string", "description": description}
        if values:
            value["enum"] = list(values)
        return {
            "type": "object",
            "properties": {
                "value": value,
                "confidence": {
                    "type": "number",
                    "minimum": 0,
                    "maximum": 1,
                    "description": "honest probability that the value is right",
                },
                "source": {"type": "string", "description": "the part of the ticket it rests on"},
            },
            "required": ["value", "confidence"],
            "additionalProperties": False,
        }

    def values(name: str) -> tuple[str, ...] | None:
        return taxonomy.values(name) if taxonomy is not None else None

    claim = {
        "type": "object",
        "properties": {
            "text": {"type": "string", "description": "the statement, error text quoted exactly"},
            "source": {"type": "string", "description": "the part of the ticket it rests on, by its label"},
        },
        "required": ["text", "source"],
        "additionalProperties": False,
    }

    return {
        "type": "object",
        "properties": {
            "summary": {
                "type": "string",
                "minLength": 1,
                "maxLength": 4000,
                "description": "one to three sentences in English",
            },
            **{f.name: guess(f.describes, values(f.name) if f.taxonomy else None) for f in CLASSIFIED},
            "problem": claim,
            "steps_to_reproduce": {"type": "array", "items": claim},
            "expected": claim,
            "actual": claim,
            "environment": {"type": "array", "items": claim},
            "error_messages": {"type": "array", "items": claim},
            "duplicate_of": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "reference": {"type": "string", "description": "an earlier ticket, e.g. TRI-123"},
                        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                    },
                    "required": ["reference", "confidence"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["summary", *CLASSIFIED_FIELDS],
        "additionalProperties": False,
    }


def result_json_example(taxonomy: Taxonomy) -> str:
    """The output contract, shown to the model as an example object (JSON mode needs one)."""

    def first(entries: tuple[TaxonomyEntry, ...]) -> str:
        return entries[0].value if entries else "..."

    example = {
        "summary": "One to three sentences in English: what is wrong and what the customer needs.",
        **{
            f.name: {
                "value": first(taxonomy.entries(f.name)) if f.taxonomy else f.example_value,
                "confidence": f.example_confidence,
                "source": f.example_source,
            }
            for f in CLASSIFIED
        },
        "problem": {"text": "What is wrong, in one sentence.", "source": "body"},
        "steps_to_reproduce": [
            {"text": "Open the checkout page.", "source": "frame at 00:00:04 of recording 'pay.mp4'"},
        ],
        "expected": {"text": "The payment goes through.", "source": "body"},
        "actual": {"text": "An error dialog appears.", "source": "screenshot 'error.png'"},
        "environment": [{"text": "Chrome 131 on Windows 11", "source": "screenshot 'error.png'"}],
        "error_messages": [{"text": "Payment failed: HTTP 500", "source": "screenshot 'error.png'"}],
        "duplicate_of": [],
    }
    return json.dumps(example, indent=2, ensure_ascii=False)
