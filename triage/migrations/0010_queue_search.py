"""Stored search vectors for the review queue: GIN indexes on the expressions
triage/selectors/queue.py searches, on PostgreSQL only. SQLite (the embedded default) has no tsvector and
keeps its substring search, so there the operations do nothing."""

from django.db import migrations, models

INDEXES = {
    "ticket_search_vector": (
        "triage_ticket",
        "to_tsvector('simple'::regconfig, subject || ' ' || description || ' ' || summary)",
    ),
    "renditiontext_search_vector": ("triage_renditiontext", "to_tsvector('simple'::regconfig, text)"),
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, (table, expression) in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin (({expression}))")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("triage", "0009_taxonomy_changes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(fields=["created_at", "id"], name="ticket_created_id"),
        ),
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(fields=["category", "status"], name="ticket_category_status"),
        ),
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(fields=["queue", "status"], name="ticket_queue_status"),
        ),
        migrations.RunPython(create, drop, elidable=False),
    ]
