"""The queue's filter fields drawn once per state (queue_tags.queue_filter_field): the same HTML as
Django's own rendering of the field, for every field, value and choice list."""

from __future__ import annotations

import pytest

from triage.forms import queue_filter_form
from triage.templatetags import queue_tags

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"category": "bug", "priority": "high", "sort": "oldest", "low": "on", "mine": "1"},
        {"confidence_below": "0.6", "created_from": "2026-01-02", "created_to": "not a date"},
        {"category": "no-such-value", "channel": "EMAIL", "confidence_below": "7"},
    ],
)
def test_each_field_is_what_django_draws_and_is_drawn_once(taxonomy, data):
    queue_tags._FIELD_HTML.clear()
    form = queue_filter_form(data, taxonomy=taxonomy)
    form.is_valid()
    for field in form:
        drawn = queue_tags.queue_filter_field(field)
        assert drawn == str(field)
    assert len(queue_tags._FIELD_HTML) == len(form.fields)
    again = queue_filter_form(data, taxonomy=taxonomy)
    again.is_valid()
    for field in again:
        assert queue_tags.queue_filter_field(field) == str(field)
    assert len(queue_tags._FIELD_HTML) == len(form.fields)  # nothing drawn twice


def test_other_choices_are_drawn_again(taxonomy):
    queue_tags._FIELD_HTML.clear()
    form = queue_filter_form({"queue": "tier1"}, taxonomy=taxonomy)
    before = queue_tags.queue_filter_field(form["queue"])
    form.fields["queue"].choices = [("", "Any queue"), ("tier1", "First line, renamed")]  # type: ignore[attr-defined]
    after = queue_tags.queue_filter_field(form["queue"])
    assert after == str(form["queue"]) and "First line, renamed" in after and after != before
