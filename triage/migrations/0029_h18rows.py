"""The queue's filter indexes in created_at order: with a status tab and a category, queue or
priority filter, each band of the work order reads its index in order and stops at the page's end,
instead of fetching and sorting every match (selectors.queue._work_order_ids). The old two-column
indexes are the new ones' prefix: dropped once the new ones exist."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("triage", "0028_h18counts"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(
                fields=["category", "status", "created_at", "id"], name="ticket_category_status_made"
            ),
        ),
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(fields=["queue", "status", "created_at", "id"], name="ticket_queue_status_made"),
        ),
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(
                fields=["priority", "status", "created_at", "id"], name="ticket_priority_status_made"
            ),
        ),
        migrations.RemoveIndex(model_name="ticket", name="ticket_category_status"),
        migrations.RemoveIndex(model_name="ticket", name="ticket_queue_status"),
    ]
