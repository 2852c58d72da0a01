"""The classified fields are declared once (triage/fields.py); everything that must agree with that
list is checked here, so a field added in one place and not the other fails."""

from __future__ import annotations

from triage import fields
from triage.adapters.export import TICKET_COLUMNS
from triage.adapters.llm.schema import Claim, FieldGuess, TriageResult
from triage.models import TaxonomyField, Ticket


def test_the_lists_nest():
    assert fields.CLASSIFIED_FIELDS[: len(fields.TAXONOMY_FIELDS)] == fields.TAXONOMY_FIELDS
    assert fields.REVIEWED_FIELDS[: len(fields.CLASSIFIED_FIELDS)] == fields.CLASSIFIED_FIELDS
    assert set(fields.REVIEWED_FIELDS) - set(fields.CLASSIFIED_FIELDS) == {"summary"}
    every = [*fields.REVIEWED_FIELDS, *fields.REPORT_FIELDS]
    assert len(every) == len(set(every))


def test_taxonomy_fields_are_the_taxonomy_choices():
    assert list(fields.TAXONOMY_FIELDS) == [choice.value for choice in TaxonomyField]


def test_every_reviewed_field_is_a_ticket_column():
    columns = {f.name for f in Ticket._meta.get_fields()}
    assert set(fields.REVIEWED_FIELDS) <= columns


def test_the_model_reply_carries_every_field():
    schema = TriageResult.model_fields
    for name in fields.CLASSIFIED_FIELDS:
        assert schema[name].annotation is FieldGuess, name
    assert schema["summary"].annotation is str
    for name in fields.REPORT_FIELDS:
        assert Claim in getattr(schema[name].annotation, "__args__", ()), name
    # a FieldGuess in the reply that no list names would never be stored or reviewed
    guesses = {name for name, info in schema.items() if info.annotation is FieldGuess}
    assert guesses == set(fields.CLASSIFIED_FIELDS)


def test_the_export_has_three_columns_per_classified_field():
    keys = [c.key for c in TICKET_COLUMNS]
    for name in fields.CLASSIFIED_FIELDS:
        assert {f"proposed_{name}", f"confidence_{name}", f"final_{name}"} <= set(keys), name


def test_no_module_declares_its_own_list_of_classified_fields():
    """A tuple literal naming the taxonomy fields anywhere but triage/fields.py is a second list."""
    import pathlib
    import re

    root = pathlib.Path(fields.__file__).parent
    literal = re.compile(
        r"""\(\s*["']category["'],\s*["']priority["'],\s*["']queue["'],\s*["']sentiment["']"""
    )
    found = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.name != "fields.py" and "migrations" not in path.parts and literal.search(path.read_text())
    ]
    assert found == []
