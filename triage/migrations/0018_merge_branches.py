from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    """Joins schema changes written side by side: the rollups' duration sums, the conversation
    models and the upload stages. None touches another's tables, so their order does not matter."""

    dependencies = [
        ("triage", "0015_report_duration_sums"),
        ("triage", "0016_conversation_models"),
        ("triage", "0017_upload_stages"),
    ]

    operations: list[migrations.operations.base.Operation] = []
