"""The sweep's control state becomes columns: requeue counts and times of attachments and inbound
mail, and a triage run's provisional / catch-up flags, which the sweep filters on. The JSON fields
keep only what is shown; existing values move over (and back, on reverse)."""

from datetime import UTC, datetime

from django.db import migrations, models

# (model, JSON field, keys) whose values move into the columns of the same name
_MOVED = (
    ("attachment", "metadata", ("sweeps", "swept_at")),
    ("inboundemail", "details", ("sweeps", "swept_at")),
    ("triagerun", "details", ("provisional", "catch_up")),
)


def _to_column(key, value):
    if key == "swept_at":
        return datetime.fromtimestamp(float(value), tz=UTC) if value else None
    if key == "sweeps":
        return int(value or 0)
    return bool(value)


def _to_json(key, value):
    return value.timestamp() if key == "swept_at" else value


def forwards(apps, schema_editor):
    for model_name, field, keys in _MOVED:
        model = apps.get_model("triage", model_name)
        rows = model.objects.filter(**{f"{field}__has_any_keys": list(keys)})
        for row in rows.iterator(chunk_size=500):
            data = dict(getattr(row, field) or {})
            for key in keys:
                if key in data:
                    setattr(row, key, _to_column(key, data.pop(key)))
            setattr(row, field, data)
            row.save(update_fields=[field, *keys])


def backwards(apps, schema_editor):
    defaults = {"sweeps": 0, "swept_at": None, "provisional": False, "catch_up": False}
    for model_name, field, keys in _MOVED:
        model = apps.get_model("triage", model_name)
        changed = models.Q()
        for key in keys:
            changed |= ~models.Q(**{key: defaults[key]})
        for row in model.objects.filter(changed).iterator(chunk_size=500):
            data = dict(getattr(row, field) or {})
            for key in keys:
                if getattr(row, key) != defaults[key]:
                    data[key] = _to_json(key, getattr(row, key))
            setattr(row, field, data)
            row.save(update_fields=[field])


class Migration(migrations.Migration):

    dependencies = [
        ('triage', '0011_reports_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='attachment',
            name='sweeps',
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='attachment',
            name='swept_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='inboundemail',
            name='sweeps',
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='inboundemail',
            name='swept_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='triagerun',
            name='catch_up',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='triagerun',
            name='provisional',
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(forwards, backwards),
    ]
