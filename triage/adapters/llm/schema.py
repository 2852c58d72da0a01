"""The triage result contract shared by every provider, validated with pydantic."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, ValidationError

if TYPE_CHECKING:
    from triage.adapters.llm.base import Taxonomy

SCHEMA_VERSION = "1"


class FieldGuess(BaseModel):
    model_config = ConfigDict(extra="ignore")

    value: str = Field(min_length=1, max_length=64)
    confidence: float = Field(ge=0.0, le=1.0)


class TriageResult(BaseModel):
    model_config = ConfigDict(extra="ignore")

    summary: str = Field(min_length=1, max_length=4000)
    category: FieldGuess
    priority: FieldGuess
    queue: FieldGuess
    sentiment: FieldGuess
    language: FieldGuess  # ISO 639-1 code, e.g. "en"

    @property
    def min_confidence(self) -> float:
        return min(
            g.confidence for g in (self.category, self.priority, self.queue, self.sentiment, self.language)
        )


class InvalidReply(Exception):
    """The model's answer is not a valid triage result; the message is quoted back to it once."""


_LANGUAGE = re.compile(r"^[a-z]{2}$")
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def _extract_json(text: str) -> dict:
    stripped = text.strip()
    if (fenced := _FENCE.match(stripped)) is not None:
        stripped = fenced.group(1)
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError as exc:
        start, end = stripped.find("{"), stripped.rfind("}")
        if start < 0 or end <= start:
            raise InvalidReply(f"reply is not JSON: {exc.msg} at position {exc.pos}") from None
        try:
            data = json.loads(stripped[start : end + 1])
        except json.JSONDecodeError as inner:
            raise InvalidReply(f"reply is not JSON: {inner.msg} at position {inner.pos}") from None
    if not isinstance(data, dict):
        raise InvalidReply("reply must be a JSON object")
    return data


def parse_triage_reply(text: str, *, taxonomy: Taxonomy) -> TriageResult:
    """Parse and validate a model reply against the schema and the taxonomy. Raises InvalidReply."""
    data = _extract_json(text)
    try:
        result = TriageResult.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:6]
        )
        raise InvalidReply(f"reply does not match the schema: {problems}") from None
    entries = {
        "category": taxonomy.categories,
        "priority": taxonomy.priorities,
        "queue": taxonomy.queues,
        "sentiment": taxonomy.sentiments,
    }
    updates: dict[str, FieldGuess] = {}
    for name, options in entries.items():
        guess: FieldGuess = getattr(result, name)
        wanted = guess.value.strip().lower()
        match = next((e.value for e in options if wanted in (e.value.lower(), e.label.lower())), None)
        if match is None:
            allowed = ", ".join(e.value for e in options)
            raise InvalidReply(f"{name} '{guess.value}' is not in the taxonomy (allowed: {allowed})")
        updates[name] = FieldGuess(value=match, confidence=guess.confidence)
    language = result.language.value.strip().lower()
    if not _LANGUAGE.match(language):
        raise InvalidReply(f"language '{result.language.value}' must be a two-letter ISO 639-1 code")
    updates["language"] = FieldGuess(value=language, confidence=result.language.confidence)
    return result.model_copy(update=updates)


def result_json_example(taxonomy: Taxonomy) -> str:
    """The output contract, shown to the model as an example object."""

    def first(entries: tuple) -> str:
        return entries[0].value if entries else "..."

    example = {
        "summary": "One to three sentences in English: what is wrong and what the customer needs.",
        "category": {"value": first(taxonomy.categories), "confidence": 0.8},
        "priority": {"value": first(taxonomy.priorities), "confidence": 0.6},
        "queue": {"value": first(taxonomy.queues), "confidence": 0.7},
        "sentiment": {"value": first(taxonomy.sentiments), "confidence": 0.9},
        "language": {"value": "en", "confidence": 0.95},
    }
    return json.dumps(example, indent=2)
