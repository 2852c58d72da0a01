from __future__ import annotations

import dataclasses

import pytest

from triage import fields
from triage.models import TaxonomyValue
from triage.services import taxonomy

pytestmark = pytest.mark.django_db


@pytest.fixture
def declared(monkeypatch):
    """The sentiment declared as a new field would be: with default values of its own."""
    sentiment = dataclasses.replace(
        fields.BY_NAME["sentiment"], defaults=(("calm", "Calm"), ("upset", "Upset"))
    )
    monkeypatch.setattr(
        taxonomy, "TAXONOMY", tuple(sentiment if f.name == "sentiment" else f for f in fields.TAXONOMY)
    )


def test_a_declared_field_without_rows_gets_its_default_values(declared):
    TaxonomyValue.objects.filter(field="sentiment").delete()
    assert taxonomy.taxonomy_seed_declared() == 2
    rows = TaxonomyValue.objects.filter(field="sentiment").order_by("position")
    assert [(r.value, r.label, r.position) for r in rows] == [("calm", "Calm", 0), ("upset", "Upset", 1)]
    assert taxonomy.taxonomy_seed_declared() == 0  # a second migrate adds nothing


def test_a_field_with_rows_keeps_them(declared):
    TaxonomyValue.objects.filter(field="sentiment").delete()
    TaxonomyValue.objects.create(field="sentiment", value="mixed", label="Mixed")
    assert taxonomy.taxonomy_seed_declared() == 0
    assert list(TaxonomyValue.objects.filter(field="sentiment").values_list("value", flat=True)) == ["mixed"]


def test_no_field_declares_defaults_today_so_migrate_seeds_nothing():
    assert taxonomy.taxonomy_seed_declared() == 0
