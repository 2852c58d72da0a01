"""At 390×844 every page an agent, a manager or an administrator opens has no horizontal page scroll
(every <details> opened, so folded tables and forms count too), and Log out is visible."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_review_flow import log_in, shot
from tests.factories import (
    PROPOSAL,
    AttachmentFactory,
    RenditionFactory,
    UserFactory,
    png_bytes,
    taxonomy_rows,
    triaged_ticket,
)
from tests.report_fixture import build_week, manager_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


PHONE = {"width": 390, "height": 844}

# the elements that stick out past the viewport's right edge (absolutely placed ones included: a
# visually hidden label inside a scrolled table is placed against the page, not the table)
WIDE = """() => Array.from(document.querySelectorAll('body *'))
    .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 2)
    .slice(0, 6).map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""


def too_wide(page: Page, url: str, *, open_details: bool = False, header: bool = True) -> str | None:
    """Open `url` at phone width; None if the document fits the viewport, else what sticks out."""
    response = page.goto(url)
    assert response is not None and response.status == 200, f"{url}: {response and response.status}"
    if header:  # the API reference is a page of its own, without the app's header
        expect(page.get_by_role("button", name="Log out")).to_be_visible()
    if open_details:  # folded tables, forms and menus take their width once opened
        page.evaluate("document.querySelectorAll('main details').forEach(d => { d.open = true; })")
    width = page.evaluate("document.documentElement.scrollWidth")
    if width <= PHONE["width"]:
        return None
    return f"{url}: the page is {width}px wide: {page.evaluate(WIDE)}"


def test_phone_pages_fit_the_viewport(live_server, page: Page):
    taxonomy_rows()
    UserFactory(username="kim")
    ticket = triaged_ticket(subject="A" * 200)
    page.set_viewport_size(PHONE)
    log_in(page, live_server.url, "kim")
    for path, name in (("/", "queue"), (f"/tickets/{ticket.id}/", "ticket"), ("/tickets/new/", "new-ticket")):
        problem = too_wide(page, live_server.url + path)
        assert problem is None, problem
        if name == "ticket":  # the review panel comes before the history, not after it
            review, history = page.locator("#review").bounding_box(), page.locator("#history").bounding_box()
            assert review and history and review["y"] < history["y"], (review, history)
            expect(page.locator("#accept-next")).to_be_visible()
        shot(page, f"phone-{name}")


# Every page a manager opens (the agent's own are above), and the administrator's.
MANAGER_PAGES = (
    (
        "reports",
        "/reports/?date_from=2026-03-02&date_to=2026-03-04",
    ),  # build_week's range: every chart has data
    ("reports-empty", "/reports/"),
    ("macros", "/macros/"),
    ("acknowledgement", "/acknowledgement/"),
    ("taxonomy", "/taxonomy/"),
    ("sla", "/sla/"),
    ("health", "/health/"),
    ("model-health", "/health/model/"),
    ("integrations", "/integrations/"),
    ("email-quarantine", "/intake/email/quarantine/"),
    ("mentions", "/mentions/"),
    ("account", "/account/"),
    ("password-change", "/accounts/password_change/"),
    ("api-docs", "/api/v1/docs"),
)
ADMIN_PAGES = (("users", "/users/"), ("privacy", "/privacy/"))


def test_phone_manager_and_admin_pages_fit_the_viewport(live_server, page: Page):
    build_week()
    manager_user(username="manager")
    UserFactory(username="ada", is_superuser=True, is_staff=True)
    # an address as long as real ones get: the users table must still fit (or scroll inside itself)
    UserFactory(username="li", email="customer.success.lead.emea@subsidiary.example-enterprise.com")
    page.set_viewport_size(PHONE)
    problems = []
    for role, pages in (("manager", MANAGER_PAGES), ("ada", ADMIN_PAGES)):
        page.context.clear_cookies()
        log_in(page, live_server.url, role)
        for name, path in pages:
            problem = too_wide(page, live_server.url + path, open_details=True, header=name != "api-docs")
            if problem:
                problems.append(problem)
            shot(page, f"phone-{name}")
    assert not problems, "\n".join(problems)


def test_the_queue_shows_at_least_12_tickets_above_the_fold_at_1440x900(live_server, page: Page, settings):
    settings.TRIAGE_QUEUE_PAGE_SIZE = 25
    taxonomy_rows()
    UserFactory(username="kim")
    for i in range(20):
        # the demo's widest labels in every column, and a low-confidence badge
        wide = {
            "category": {"value": "billing", "confidence": 0.2},
            "queue": {"value": "tier2", "confidence": 0.3},
        }
        ticket = triaged_ticket(
            subject=f"Refund {i} " + "x" * (120 if i == 3 else 0),
            requester_email=f"c{i}@example.com",
            result={**PROPOSAL, **wide} if i % 2 else None,
        )
        for _ in range(2 if i == 3 else 0):  # thumbnails widen the Files column, as in the demo
            RenditionFactory(attachment=AttachmentFactory(ticket=ticket), content=png_bytes(320, 200))
    page.set_viewport_size({"width": 1440, "height": 900})
    log_in(page, live_server.url, "kim")
    bottoms = page.eval_on_selector_all(
        "table.queue tbody tr", "rows => rows.map(r => r.getBoundingClientRect().bottom)"
    )
    assert sum(1 for b in bottoms if b <= 900) >= 12, bottoms
    assert page.evaluate("document.documentElement.scrollWidth") <= 1440
    expect(page.get_by_role("columnheader", name="Assignee")).to_be_visible()
    # the long subject is cut with an ellipsis in its cell, and whole in the link's tooltip
    long = page.locator("table.queue .ticket-cell a", has_text="Refund 3 ")
    expect(long).to_have_attribute("title", re.compile("Refund 3 " + "x" * 120))
    assert long.locator(".subject").evaluate("s => s.scrollWidth > s.clientWidth"), (
        "the subject should be cut"
    )
    # every column inside the table's box: none pushed off to a sideways scroll
    cut = page.evaluate(
        "(() => { const wrap = document.querySelector('.table-wrap').getBoundingClientRect();"
        " return Array.from(document.querySelectorAll('table.queue thead th'))"
        ".filter(th => th.offsetParent !== null && th.getBoundingClientRect().right > wrap.right + 1)"
        ".map(th => th.textContent.trim()); })()"
    )
    assert cut == [], f"columns off screen at 1440px: {cut}"
    # nor scrolled: a long subject gives way inside its cell (the demo's first ticket once pushed
    # Channel past the table's edge while this test's rows, without attachments, fitted)
    assert page.evaluate(
        "(() => { const w = document.querySelector('.table-wrap'); return w.scrollWidth <= w.clientWidth; })()"
    )
    shot(page, "queue-desktop-dense")
    # the header row stays in sight while the rows scroll under it (a shorter window: the table's
    # box is the window's height less the header, so its rows scroll inside it)
    page.set_viewport_size({"width": 1440, "height": 600})
    wrap = page.locator(".table-wrap")
    wrap.evaluate("w => { w.scrollTop = 300; }")
    assert wrap.evaluate("w => w.scrollTop") > 0, "the rows should scroll inside the table's box"
    top = page.evaluate(
        "(() => { const w = document.querySelector('.table-wrap').getBoundingClientRect().top;"
        " const h = document.querySelector('table.queue thead th').getBoundingClientRect().top;"
        " return Math.abs(h - w); })()"
    )
    assert top <= 2, f"the header scrolled away ({top}px from the table's top)"


def test_only_the_queues_table_scrolls_in_a_box_of_its_own(live_server, page: Page):
    """The queue keeps its header in sight by scrolling its rows inside a window-high box (the
    test above); a long table elsewhere (here 40 accounts) grows with its page instead, so its last
    row is reached by scrolling the page, not a second scroll box inside it."""
    UserFactory(username="ada", is_superuser=True, is_staff=True)
    for i in range(40):
        UserFactory(username=f"user{i:02d}")
    page.set_viewport_size({"width": 1440, "height": 600})
    log_in(page, live_server.url, "ada")
    page.goto(live_server.url + "/users/")
    box = page.locator("#user-list")
    assert box.evaluate("b => b.scrollHeight - b.clientHeight") <= 1, (
        "the accounts table scrolls in its own box"
    )
    assert (
        box.evaluate("b => b.getBoundingClientRect().height") > 600
    )  # taller than the window: the page scrolls
    assert page.evaluate("document.documentElement.scrollHeight") > 600
