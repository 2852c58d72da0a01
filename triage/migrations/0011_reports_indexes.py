"""Reports: covering indexes for the dashboard's grouped counts and the day filters."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("triage", "0010_queue_search"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(
                fields=["created_at"],
                include=(
                    "id",
                    "category",
                    "channel",
                    "queue",
                    "priority",
                    "status",
                    "triaged_at",
                    "reviewed_at",
                    "latest_run_id",
                ),
                name="ticket_report_created_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="triagerun",
            index=models.Index(
                fields=["started_at"],
                include=(
                    "ticket_id",
                    "status",
                    "provider",
                    "model",
                    "error_kind",
                    "prompt_tokens",
                    "cached_tokens",
                    "completion_tokens",
                ),
                name="triagerun_report_day_idx",
            ),
        ),
    ]
