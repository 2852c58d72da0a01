from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    """Joins two branches of the schema that were written side by side: the sweep's control
    columns and the report rollups (with the bounded search vector). Neither touches the other's
    tables, so the order between them does not matter."""

    dependencies = [
        ("triage", "0012_sweep_columns"),
        ("triage", "0013_report_rollups"),
    ]

    operations: list[migrations.operations.base.Operation] = []
