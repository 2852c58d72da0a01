"""The triage result contract shared by every provider, validated with pydantic."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

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
