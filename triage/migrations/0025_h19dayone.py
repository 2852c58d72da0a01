from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("triage", "0024_rf18"),
    ]

    operations = [
        migrations.AddField(
            model_name="classifierversion",
            name="kind",
            field=models.CharField(
                choices=[("trained", "Trained on reviews"), ("dayone", "Day one (unreviewed tickets)")],
                default="trained",
                max_length=16,
            ),
        ),
    ]
