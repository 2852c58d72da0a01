from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("triage", "0016_rate_counters")]

    operations = [
        migrations.CreateModel(
            name="UploadStage",
            fields=[
                ("key", models.CharField(max_length=255, primary_key=True, serialize=False)),
                ("staged_at", models.DateTimeField(db_index=True)),
            ],
        ),
    ]
