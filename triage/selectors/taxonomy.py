"""The taxonomy the model and the forms choose from (active values, in their order)."""

from __future__ import annotations

from triage.adapters.llm.base import Taxonomy, TaxonomyEntry, taxonomy_of
from triage.models import (
    TaxonomyField,
    TaxonomyValue,
)


def taxonomy_get() -> Taxonomy:
    rows = TaxonomyValue.objects.filter(is_active=True).order_by("field", "position", "value")
    grouped: dict[str, list[TaxonomyEntry]] = {f.value: [] for f in TaxonomyField}
    for row in rows:
        grouped[row.field].append(
            TaxonomyEntry(
                value=row.value,
                label=row.label,
                description=row.description,
                examples=tuple(line.strip() for line in row.examples.splitlines() if line.strip()),
            )
        )
    return taxonomy_of(grouped)


def taxonomy_choices(*, field: str) -> list[tuple[str, str]]:
    return list(
        TaxonomyValue.objects.filter(field=field, is_active=True)
        .order_by("position", "value")
        .values_list("value", "label")
    )


def taxonomy_labels() -> dict[str, dict[str, str]]:
    labels: dict[str, dict[str, str]] = {f.value: {} for f in TaxonomyField}
    for field, value, label in TaxonomyValue.objects.values_list("field", "value", "label"):
        labels[field][value] = label
    return labels
