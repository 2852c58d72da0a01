"""The queue shows each active filter as a chip whose link drops that filter only."""

from __future__ import annotations

import re
from html import unescape

import pytest

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("view_taxonomy")]


def _chips(html: str) -> dict[str, str]:
    return {
        name: unescape(url)
        for name, url in re.findall(r'data-filter="(\w+)".*?class="chip-remove" href="([^"]*)"', html, re.S)
    }


def test_each_active_filter_is_a_chip_that_removes_only_itself(agent):
    response = agent.get("/?status=needs_review&q=refund&priority=urgent&low=on&sort=newest&page=2")
    html = response.content.decode()
    chips = _chips(html)
    assert set(chips) == {"q", "priority", "low"}
    assert '<details class="filters-more">' in html  # folded to one line while filters are set
    assert "Search: <strong>refund</strong>" in html and "Flagged LOW</span>" in html
    assert chips["priority"] == "?status=needs_review&q=refund&low=on&sort=newest"
    assert chips["q"] == "?status=needs_review&priority=urgent&low=on&sort=newest"


def test_no_chips_without_filters_and_none_for_an_invalid_value(agent):
    html = agent.get("/").content.decode()
    assert 'id="filter-chips"' not in html and "filters-more" not in html
    assert _chips(agent.get("/?priority=nonsense&q=x").content.decode()).keys() == {"q"}
