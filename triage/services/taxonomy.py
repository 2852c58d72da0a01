"""The taxonomy is data: defaults for a software company's support desk, editable in the admin."""

from __future__ import annotations

from django.db import transaction

from triage.models import TaxonomyValue


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
