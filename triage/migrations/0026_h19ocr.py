import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("triage", "0025_h19dayone"),
    ]

    operations = [
        migrations.AddField(
            model_name="renditiontext",
            name="mode",
            field=models.CharField(
                choices=[
                    ("FULL", "read whole"),
                    ("REGION", "changed bands read, the rest carried over"),
                    ("REUSED", "identical to an earlier frame: its text"),
                ],
                default="FULL",
                max_length=8,
            ),
        ),
        migrations.AddField(
            model_name="renditiontext",
            name="source",
            field=models.ForeignKey(
                blank=True,
                help_text="The frame whose lines were reused or carried over.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="triage.rendition",
            ),
        ),
    ]
