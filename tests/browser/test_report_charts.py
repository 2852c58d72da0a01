"""The reports page's SVG charts keep legible text at phone and desktop widths: every label that is
shown renders at 10 CSS px or more, inside its chart's box, without overlapping a neighbour, and the
page does not scroll sideways; axe-core finds no violation there."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.browser.test_pages_a11y import _report, axe_violations
from tests.browser.test_review_flow import log_in, shot
from tests.report_fixture import build_week, manager_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1440, "height": 900}}
PAGES = {
    "week": "/reports/?date_from=2026-03-02&date_to=2026-03-04",  # build_week's range: data on 2 days
    "28-days": "/reports/?date_from=2026-02-05&date_to=2026-03-04",  # the default span, 28 x labels
}

# For each chart that is displayed (a variant for another width is display:none): its text elements'
# rendered font size (computed size x the SVG's scale on screen), their boxes, and the chart's box.
MEASURE = """() => Array.from(document.querySelectorAll('svg.chart'))
  .filter(svg => svg.getClientRects().length > 0)
  .map(svg => {
    const box = svg.getBoundingClientRect();
    const scale = svg.getScreenCTM().a;
    return {
      card: svg.closest('section').id, label: svg.getAttribute('aria-label'), role: svg.getAttribute('role'),
      box: {left: box.left, right: box.right, top: box.top, bottom: box.bottom},
      texts: Array.from(svg.querySelectorAll('text')).map(t => {
        const r = t.getBoundingClientRect();
        return {
          text: t.textContent, px: parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a,
          left: r.left, right: r.right, top: r.top, bottom: r.bottom,
        };
      }),
    };
  })"""


def chart_problems(charts: list[dict]) -> list[str]:
    problems = []
    for chart in charts:
        name, box, texts = f"{chart['card']} «{chart['label']}»", chart["box"], chart["texts"]
        for t in texts:
            if t["px"] < 10:
                problems.append(f"{name}: {t['text']!r} at {t['px']:.1f}px")
            if (
                t["left"] < box["left"] - 0.5
                or t["right"] > box["right"] + 0.5
                or t["top"] < box["top"] - 0.5
                or t["bottom"] > box["bottom"] + 0.5
            ):
                problems.append(f"{name}: {t['text']!r} clipped ({t} outside {box})")
        for i, a in enumerate(texts):  # two labels drawn over each other cannot be read either
            for b in texts[i + 1 :]:
                if (
                    min(a["right"], b["right"]) - max(a["left"], b["left"]) > 0.5
                    and min(a["bottom"], b["bottom"]) - max(a["top"], b["top"]) > 0.5
                ):
                    problems.append(f"{name}: {a['text']!r} overlaps {b['text']!r}")
    return problems


@pytest.mark.parametrize("width", list(WIDTHS))
def test_chart_text_is_legible_and_whole(live_server, page: Page, width: str):
    build_week()
    manager_user(username="manager")
    page.set_viewport_size(WIDTHS[width])
    log_in(page, live_server.url, "manager")
    for name, path in PAGES.items():
        page.goto(live_server.url + path)
        shot(page, f"report-charts-{name}-{width}")  # before the checks, so a failing run has its picture
        charts = page.evaluate(MEASURE)
        # every chart card shows its charts, each one an image with a name
        cards = {c["card"] for c in charts}
        assert cards >= {
            "chart-volume-category",
            "chart-volume-channel",
            "chart-priority",
            "chart-timing",
            "chart-review",
            "chart-cost",
            "chart-problems",
        }, cards
        assert len(charts) == 9, [c["label"] for c in charts]
        assert all(c["role"] == "img" and c["label"] for c in charts)
        assert sum(len(c["texts"]) for c in charts) > 40
        # the smallest text of each chart, the figure to read when this fails (or with -s)
        smallest = ", ".join(f"{c['label']} {min(t['px'] for t in c['texts']):.1f}px" for c in charts)
        print(f"{name} at {width}: {smallest}")
        problems = chart_problems(charts)
        assert not problems, f"{name} at {width}: {smallest}\n" + "\n".join(problems[:30])
        doc_width = page.evaluate("document.documentElement.scrollWidth")
        assert doc_width <= WIDTHS[width]["width"], f"{name} at {width}: the page is {doc_width}px wide"
        violations = axe_violations(page)  # with data in every chart, both renderings in the page
        assert not violations, f"{name} at {width}:\n{_report(violations)}"


def test_the_service_levels_card_is_padded_like_the_others(live_server, page: Page):
    """It is a scrolling table card (.table-wrap, padding 0): its heading touched the card's edge
    and the card touched the chart grid above."""
    build_week()
    manager_user(username="mona")
    log_in(page, live_server.url, "mona")
    page.goto(f"{live_server.url}{PAGES['week']}")
    gaps = page.evaluate(
        """() => {
            const card = document.querySelector('#sla-met').getBoundingClientRect();
            const title = document.querySelector('#sla-met-title').getBoundingClientRect();
            const grid = document.querySelector('.report-grid').getBoundingClientRect();
            return {left: title.left - card.left, top: title.top - card.top, above: card.top - grid.bottom};
        }"""
    )
    assert gaps["left"] >= 16 and gaps["top"] >= 12 and gaps["above"] >= 12, gaps
