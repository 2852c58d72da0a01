"""The ticket search vector reads at most the first 100,000 characters of the description.

PostgreSQL refuses a tsvector over 1 MB ("string is too long for tsvector"), and the index
expression is computed on every INSERT and UPDATE of the row: a ticket from a mail with a few MB
of pasted log could not be stored at all. 100,000 characters of text give a vector well under the
limit; selectors/queue.py's _PG_SEARCH uses the same expression (an expression index serves only its own)."""

from django.db import migrations

TICKET_VECTOR = (
    "to_tsvector('simple'::regconfig, subject || ' ' || left(description, 100000) || ' ' || summary)"
)
UNBOUNDED = "to_tsvector('simple'::regconfig, subject || ' ' || description || ' ' || summary)"


def _replace(schema_editor, expression: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS ticket_search_vector")
    schema_editor.execute(f"CREATE INDEX ticket_search_vector ON triage_ticket USING gin (({expression}))")


def bound(apps, schema_editor):
    _replace(schema_editor, TICKET_VECTOR)


def unbound(apps, schema_editor):
    _replace(schema_editor, UNBOUNDED)


class Migration(migrations.Migration):
    dependencies = [
        ("triage", "0011_reports_indexes"),
    ]

    operations = [migrations.RunPython(bound, unbound, elidable=False)]
