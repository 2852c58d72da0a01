"""The taxonomy is data: defaults for a software company's support desk, edited by managers on /taxonomy/."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from triage.fields import TAXONOMY
from triage.models import TaxonomyChange, TaxonomyField, TaxonomyValue


@transaction.atomic
def taxonomy_seed_defaults(*, model: type[TaxonomyValue] = TaxonomyValue) -> int:
    """Create the default values that are missing; never touches rows an admin has edited.

    `model` lets the data migration pass its historical model. Returns how many rows were created.
    """
    from triage.taxonomy_defaults import DEFAULT_TAXONOMY_ROWS

    created = 0
    for position, row in enumerate(DEFAULT_TAXONOMY_ROWS):
        _, was_created = model.objects.get_or_create(
            field=row["field"],
            value=row["value"],
            defaults={
                "label": row["label"],
                "description": row.get("description", ""),
                "examples": "\n".join(row.get("examples", ())),
                "position": position,
            },
        )
        created += int(was_created)
    return created


def taxonomy_seed_declared(**_signal: object) -> int:
    """Seed the default values declared in triage/fields.py for a field that has no rows yet.

    Connected to post_migrate: a field added to triage/fields.py gets its column from a generated
    migration and its first values here, on the migrate that adds it. A field with rows (or none
    declared) is left alone. Returns how many rows were created."""
    created = 0
    for field in TAXONOMY:
        if field.defaults and not TaxonomyValue.objects.filter(field=field.name).exists():
            for position, (value, label) in enumerate(field.defaults):
                TaxonomyValue.objects.create(field=field.name, value=value, label=label, position=position)
                created += 1
    return created


# --- The managers' taxonomy editor --------------------------------------------------------------
# Values are never deleted: tickets, reviews and trained models keep the slug, so a value goes out of
# use by deactivation (it leaves the model's choices and the review form; old tickets still show it).


class TaxonomyEditError(ValueError):
    """A change the editor refuses, with a message for the page."""


def _record(*, row: TaxonomyValue, action: str, before: str, after: str, user: User) -> None:
    TaxonomyChange.objects.create(
        taxonomy_value=row, action=action, before=before, after=after, changed_by=user
    )


@transaction.atomic
def taxonomy_value_add(*, field: str, value: str, label: str, user: User) -> TaxonomyValue:
    if field not in TaxonomyField.values:
        raise TaxonomyEditError(f"Unknown field {field!r}.")
    if TaxonomyValue.objects.filter(field=field, value=value).exists():
        raise TaxonomyEditError(f"{field} already has the value {value!r}; reactivate or rename it.")
    last = TaxonomyValue.objects.filter(field=field).order_by("-position").values_list("position", flat=True)
    row = TaxonomyValue.objects.create(
        field=field, value=value, label=label.strip(), position=(last.first() or 0) + 1
    )
    _record(row=row, action=TaxonomyChange.Action.ADD, before="", after=row.label, user=user)
    return row


@transaction.atomic
def taxonomy_value_rename(*, value_id: int, label: str, user: User) -> TaxonomyValue:
    """Change the label people and the model see; the slug stored on tickets stays."""
    row = TaxonomyValue.objects.select_for_update().get(id=value_id)
    label = label.strip()
    if not label:
        raise TaxonomyEditError("A label cannot be empty.")
    if label != row.label:
        before, row.label = row.label, label
        row.save(update_fields=["label"])
        _record(row=row, action=TaxonomyChange.Action.RENAME, before=before, after=label, user=user)
    return row


@transaction.atomic
def taxonomy_value_set_active(*, value_id: int, active: bool, user: User) -> TaxonomyValue:
    row = TaxonomyValue.objects.select_for_update().get(id=value_id)
    if row.is_active == active:
        return row  # a double click records nothing
    if not active and not TaxonomyValue.objects.filter(field=row.field, is_active=True).exclude(id=row.id):
        raise TaxonomyEditError(f"{row.get_field_display()} needs at least one active value.")
    row.is_active = active
    row.save(update_fields=["is_active"])
    action = TaxonomyChange.Action.REACTIVATE if active else TaxonomyChange.Action.DEACTIVATE
    _record(row=row, action=action, before=row.label, after=row.label, user=user)
    return row


def _examples_normalized(examples: str) -> str:
    return "\n".join(line.strip() for line in examples.splitlines() if line.strip())


def _described(description: str, examples: str) -> str:
    """What a DESCRIBE change records before and after (the audit columns hold 120 characters)."""
    n = len(examples.splitlines()) if examples else 0
    text = f"{description} ({n} example{'' if n == 1 else 's'})" if description else f"({n} examples)"
    return text if len(text) <= 120 else text[:119] + "…"


@transaction.atomic
def taxonomy_value_describe(*, value_id: int, description: str, examples: str, user: User) -> TaxonomyValue:
    """Edit the description and example phrases the offline model and the Kimi prompt are built from.

    Both read the taxonomy through `selectors.taxonomy_get()`, whose fingerprint covers descriptions and
    examples: the next triage uses the new text (a new Kimi prompt-cache key, the offline model's
    per-taxonomy classifiers refitted) and the next training run sees a changed taxonomy."""
    row = TaxonomyValue.objects.select_for_update().get(id=value_id)
    description, examples = description.strip(), _examples_normalized(examples)
    if (description, examples) == (row.description, row.examples):
        return row  # nothing changed: nothing recorded
    before = _described(row.description, row.examples)
    row.description, row.examples = description, examples
    row.save(update_fields=["description", "examples"])
    _record(
        row=row,
        action=TaxonomyChange.Action.DESCRIBE,
        before=before,
        after=_described(description, examples),
        user=user,
    )
    return row
