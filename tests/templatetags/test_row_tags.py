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


def test_rows_showing_the_same_percentage_keep_their_own_low_flag():
    """queue_rows draws each distinct confidence badge once a page, keyed by what it shows: 59.9%
    and 60% both show "60%", but only the first is under the fixed level, and a calibrated "not
    low" overrides it."""
    from django.template import Context
    from django.utils import timezone

    from triage.models import Ticket
    from triage.templatetags.queue_tags import queue_rows

    now = timezone.now()
    tickets = [
        Ticket(id=n, subject=f"t{n}", status=Ticket.Status.NEEDS_REVIEW, confidence=c, created_at=now)
        for n, c in ((1, 0.599), (2, 0.6), (3, 0.599), (4, 0.6))
    ]
    tickets[2].low, tickets[2].low_fields = False, []  # the calibrated level says not low
    tickets[3].low, tickets[3].low_fields = True, ["queue"]  # ... or low
    rows = str(queue_rows(Context({}), tickets)).split("</tr>")[:4]
    assert ["conf-low" in row for row in rows] == [True, False, False, True]
    assert all('<span class="conf-value">60%</span>' in row for row in rows)
    assert "below 60%" in rows[0] and "Low confidence (queue)" in rows[3]
