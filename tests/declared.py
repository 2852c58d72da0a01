"""Test data for the taxonomy fields declared with default values in triage/fields.py (a field
added there and nowhere else): the fixtures add these, so the suite runs unchanged with such a field.
Empty for the fields the fixtures write out."""

from __future__ import annotations

from triage.fields import TAXONOMY

_WRITTEN_OUT = frozenset({"category", "priority", "queue", "sentiment"})

# its default values, as the test taxonomy rows
DECLARED_ROWS: dict[str, list[tuple[str, str]]] = {
    f.name: list(f.defaults) for f in TAXONOMY if f.defaults and f.name not in _WRITTEN_OUT
}
# its first value in a model reply, sure enough to be no reply's lowest confidence
DECLARED_GUESSES: dict[str, dict[str, object]] = {
    name: {"value": rows[0][0], "confidence": 0.999} for name, rows in DECLARED_ROWS.items()
}
