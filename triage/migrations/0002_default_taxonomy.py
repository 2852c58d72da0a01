from __future__ import annotations

from django.db import migrations


def seed(apps, schema_editor):
    from triage.services.taxonomy import taxonomy_seed_defaults

    taxonomy_seed_defaults(model=apps.get_model("triage", "TaxonomyValue"))


class Migration(migrations.Migration):
    dependencies = [("triage", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
