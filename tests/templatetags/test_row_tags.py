"""The queue row's one-call tags render exactly what the shared partials render."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string

from triage.templatetags.triage_tags import confidence_badge, status_badge


@pytest.mark.parametrize(
    ("value", "low", "low_fields", "title"),
    [
        (None, None, None, ""),
        (0.95, False, [], "Lowest field confidence"),
        (0.65, True, ["queue"], "Lowest field confidence"),
        (0.65, True, ["queue", "priority"], ""),
        (0.4, None, None, ""),  # no calibrated flag: the fixed 60%
        (0.9, None, None, "Model's confidence <b>"),
    ],
)
def test_confidence_badge_is_the_partial(value, low, low_fields, title):
    partial = render_to_string(
        "triage/partials/_confidence.html",
        {"value": value, "low": low, "low_fields": low_fields, "title": title},
    )
    assert str(confidence_badge(value, low, low_fields, title)) == partial.strip()


@pytest.mark.parametrize(("status", "text"), [("NEEDS_REVIEW", "Needs review"), ("TRIAGING", "Triaging <x>")])
def test_status_badge_is_the_partial(status, text):
    partial = render_to_string("triage/partials/_status_badge.html", {"status": status, "text": text})
    assert str(status_badge(status, text)) == partial.strip()
