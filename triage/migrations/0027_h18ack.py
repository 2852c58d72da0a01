from django.db import migrations, models


class Migration(migrations.Migration):
    # after the current leaf on main (0026_h19ocr): depending on 0024_rf18 would leave two leaf nodes
    dependencies = [
        ("triage", "0026_h19ocr"),
    ]

    operations = [
        migrations.AddField(
            model_name="ticket",
            name="ack_due_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(
                condition=models.Q(("ack_due_at__isnull", False)),
                fields=["ack_due_at"],
                name="ticket_ack_due",
            ),
        ),
    ]
