"""The fields a ticket is classified by, declared once. Every list of field names derives from here.

A plain module (no Django), so the pure adapters may import it too. Adding a classified field is one
entry in CLASSIFIED below (and the migration `manage.py makemigrations` then writes for its Ticket
column and taxonomy choice): the Ticket column, the taxonomy's choice and value object, the model's
reply schema and prompt, the offline model, the review form, the API and the export all derive
from these declarations. tests/test_fields.py fails when one of them does not.

- TAXONOMY_FIELDS: the model picks each value from the taxonomy (models.TaxonomyField);
- CLASSIFIED_FIELDS: every field the model proposes a value for, with a confidence (the taxonomy
  fields and the language, an ISO 639-1 code);
- REVIEWED_FIELDS: what a reviewer confirms or corrects (the classified fields and the summary);
- REPORT_FIELDS: the structured report of the problem, each a list of claims with their source.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClassifiedField:
    """One field the model proposes a value for, with a confidence, and a reviewer confirms."""

    name: str
    title: str
    # what the prompt asks, after the name: "category (what the ticket is about)"
    asks: str
    # the reply schema's description of the value (docs the `json_schema` response format would send)
    describes: str
    # the Taxonomy value object's attribute holding the values (Taxonomy.categories)
    plural: str = ""
    # False: a free value the adapters validate themselves (the language code); True: one of the
    # taxonomy's values, editable in the admin
    taxonomy: bool = True
    max_length: int = 64
    # the example reply in the prompt: its confidence and source (its value: the taxonomy's first)
    example_confidence: float = 0.8
    example_source: str = "body"
    example_value: str = ""
    # (value, label) pairs seeded and used where no taxonomy rows name this field (a new field)
    defaults: tuple[tuple[str, str], ...] = ()


CLASSIFIED: tuple[ClassifiedField, ...] = (
    ClassifiedField(
        "category",
        "Category",
        asks="what the ticket is about",
        describes="what the ticket is about",
        plural="categories",
    ),
    ClassifiedField(
        "priority",
        "Priority",
        asks="how urgent",
        describes="how urgent it is",
        plural="priorities",
        example_confidence=0.6,
        example_source="subject",
    ),
    ClassifiedField(
        "queue",
        "Queue",
        asks="which team should handle it",
        describes="which team should handle it",
        plural="queues",
        example_confidence=0.7,
    ),
    ClassifiedField(
        "sentiment",
        "Sentiment",
        asks="the requester's tone",
        describes="the requester's tone",
        plural="sentiments",
        example_confidence=0.9,
    ),
    ClassifiedField(
        "language",
        "Language",
        asks="the ISO 639-1 code (two lowercase letters) of the language the requester wrote in: "
        "en, de, es, fr, pt, ...",
        describes="ISO 639-1 code of the requester's language, e.g. 'en'",
        taxonomy=False,
        max_length=16,
        example_confidence=0.95,
        example_value="en",
    ),
)

BY_NAME: dict[str, ClassifiedField] = {f.name: f for f in CLASSIFIED}
TAXONOMY: tuple[ClassifiedField, ...] = tuple(f for f in CLASSIFIED if f.taxonomy)

TAXONOMY_FIELDS: tuple[str, ...] = tuple(f.name for f in TAXONOMY)
CLASSIFIED_FIELDS: tuple[str, ...] = tuple(f.name for f in CLASSIFIED)
REVIEWED_FIELDS: tuple[str, ...] = (*CLASSIFIED_FIELDS, "summary")
REPORT_FIELDS: tuple[str, ...] = (
    "problem",
    "steps_to_reproduce",
    "expected",
    "actual",
    "environment",
    "error_messages",
)
