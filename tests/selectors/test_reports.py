"""Report selectors' ordering rules."""

from __future__ import annotations

import pytest

from triage.models import TaxonomyValue
from triage.selectors.reports import priority_ordered
from triage.selectors.taxonomy import priority_ranks

pytestmark = pytest.mark.django_db


def test_the_priority_mix_reads_most_urgent_first_whatever_the_counts(taxonomy):
    counts = {"low": 9, "(none)": 4, "retired": 3, "normal": 2, "urgent": 1, "high": 5}
    assert priority_ordered(counts, rank=priority_ranks()) == [
        ("urgent", 1),
        ("high", 5),
        ("normal", 2),
        ("low", 9),
        ("retired", 3),  # no longer in the taxonomy
        ("(none)", 4),
    ]


def test_the_order_follows_the_taxonomys_positions(taxonomy):
    TaxonomyValue.objects.filter(field="priority", value="low").update(position=99)
    assert [p for p, _ in priority_ordered({"low": 1, "urgent": 1}, rank=priority_ranks())] == [
        "low",
        "urgent",
    ]
