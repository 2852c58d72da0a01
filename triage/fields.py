"""The fields a ticket is classified by, declared once. Every list of field names derives from here.

A plain module (no Django), so the pure adapters may import it too.
- TAXONOMY_FIELDS: the model picks each value from the taxonomy (models.TaxonomyField);
- CLASSIFIED_FIELDS: every field the model proposes a value for, with a confidence (the taxonomy
  fields and the language, an ISO 639-1 code);
- REVIEWED_FIELDS: what a reviewer confirms or corrects (the classified fields and the summary);
- REPORT_FIELDS: the structured report of the problem, each a list of claims with their source.

A new classified field also needs its Ticket column (and migration), and a new taxonomy field
its models.TaxonomyField choice; tests/test_fields.py fails until they agree.
"""

from __future__ import annotations

TAXONOMY_FIELDS: tuple[str, ...] = ("category", "priority", "queue", "sentiment")
CLASSIFIED_FIELDS: tuple[str, ...] = (*TAXONOMY_FIELDS, "language")
REVIEWED_FIELDS: tuple[str, ...] = (*CLASSIFIED_FIELDS, "summary")
REPORT_FIELDS: tuple[str, ...] = (
    "problem",
    "steps_to_reproduce",
    "expected",
    "actual",
    "environment",
    "error_messages",
)
