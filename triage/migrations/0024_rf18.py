from django.db import migrations, models
from django.utils import timezone


def stop_pending_clocks(apps, schema_editor):
    """Tickets already Pending wait on the customer from now on: their clock stops, nothing is due."""
    Ticket = apps.get_model("triage", "Ticket")
    Ticket.objects.filter(status="PENDING").update(sla_paused_at=timezone.now(), sla_due_at=None)


class Migration(migrations.Migration):
    dependencies = [
        ("triage", "0023_p20_redact"),
    ]

    operations = [
        migrations.AddField(
            model_name="ticket",
            name="sla_paused_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="ticket",
            name="sla_paused_s",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(stop_pending_clocks, migrations.RunPython.noop),
    ]
