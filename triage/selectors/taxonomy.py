"""The taxonomy the model and the forms choose from (active values, in their order)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from triage.adapters.llm.base import Taxonomy, TaxonomyEntry, taxonomy_of
from triage.models import (
    TaxonomyField,
    TaxonomyValue,
)


def taxonomy_get() -> Taxonomy:
    return _taxonomy(TaxonomyValue.objects.filter(is_active=True).order_by("field", "position", "value"))


def _taxonomy(rows: Iterable[TaxonomyValue]) -> Taxonomy:
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


def priority_ranks() -> dict[str, int]:
    """Each priority value's rank, 0 the lowest: the taxonomy's positions order priority from the
    lowest up (inactive values keep theirs; tickets may still carry them)."""
    values = TaxonomyValue.objects.filter(field="priority").order_by("position", "value")
    return {value: rank for rank, value in enumerate(values.values_list("value", flat=True))}


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


@dataclass(frozen=True)
class TaxonomySnapshot:
    """The taxonomy as one page needs it, read in one query: the active values (the model's and the
    filters' taxonomy), the review form's choices, and every value's label (inactive ones too)."""

    taxonomy: Taxonomy
    choices: dict[str, list[tuple[str, str]]]
    labels: dict[str, dict[str, str]]


def taxonomy_snapshot() -> TaxonomySnapshot:
    rows = list(TaxonomyValue.objects.order_by("field", "position", "value"))
    active = [row for row in rows if row.is_active]
    labels: dict[str, dict[str, str]] = {f.value: {} for f in TaxonomyField}
    choices: dict[str, list[tuple[str, str]]] = {f.value: [] for f in TaxonomyField}
    for row in rows:
        labels[row.field][row.value] = row.label
    for row in active:
        choices[row.field].append((row.value, row.label))
    return TaxonomySnapshot(taxonomy=_taxonomy(active), choices=choices, labels=labels)
