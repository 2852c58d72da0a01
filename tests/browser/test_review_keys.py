"""Reviewing from the keyboard in a real browser: a accepts and opens the next ticket of the same
view, e focuses the first field, Ctrl+Enter saves and goes on, n/p/u move, ? shows the help;
nothing fires while typing, and the queue's focused row survives Back."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.browser.test_review_flow import log_in
from tests.factories import UserFactory, taxonomy_rows, triaged_ticket
from triage.models import ReviewDecision, Ticket
from triage.services.bulk import BULK_ACTIONS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _arrive(page: Page, url: str) -> None:
    """At `url` with the page's scripts run: a key pressed before review.js has bound it is lost."""
    expect(page).to_have_url(url)
    page.wait_for_load_state()


def tickets(n: int) -> list[Ticket]:
    made = []
    for i in range(n):
        ticket = triaged_ticket(subject=f"Refund request {i}")
        Ticket.objects.filter(id=ticket.id).update(created_at=timezone.now() - timedelta(minutes=60 - i))
        made.append(ticket)
    return made


def test_accept_and_correct_from_the_keyboard_stay_in_the_view(live_server, page: Page):
    taxonomy_rows()
    UserFactory(username="kim")
    first, second, third, fourth = tickets(4)
    log_in(page, live_server.url, "kim")
    page.goto(f"{live_server.url}/?status=needs_review&sort=oldest")
    page.keyboard.press("j")
    expect(page.locator(f"#ticket-row-{first.id}")).to_be_focused()
    page.keyboard.press("o")
    _arrive(page, f"{live_server.url}/tickets/{first.id}/?view=status%3Dneeds_review%26sort%3Doldest")

    page.keyboard.press("a")  # accept as proposed, then the next ticket of this view
    _arrive(page, f"{live_server.url}/tickets/{second.id}/?view=status%3Dneeds_review%26sort%3Doldest")
    expect(page.locator(".flash-success")).to_contain_text(f"{first.reference} accepted as proposed")

    page.keyboard.press("e")
    category = page.get_by_label("Category")
    expect(category).to_be_focused()
    category.select_option("billing")
    summary = page.get_by_label("Summary")
    summary.focus()
    page.keyboard.type(" an")  # typing in a field: neither a nor n fires
    expect(summary).to_have_value(re.compile(r"^ an"))
    _arrive(page, f"{live_server.url}/tickets/{second.id}/?view=status%3Dneeds_review%26sort%3Doldest")
    page.keyboard.press("Control+Enter")  # Save & next
    _arrive(page, f"{live_server.url}/tickets/{third.id}/?view=status%3Dneeds_review%26sort%3Doldest")
    decision = ReviewDecision.objects.get(ticket=second)
    assert decision.action == ReviewDecision.Action.CORRECT and decision.after["category"] == "billing"

    page.keyboard.press("n")
    _arrive(page, f"{live_server.url}/tickets/{fourth.id}/?view=status%3Dneeds_review%26sort%3Doldest")
    page.keyboard.press("p")
    _arrive(page, f"{live_server.url}/tickets/{third.id}/?view=status%3Dneeds_review%26sort%3Doldest")

    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Back to the list")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    page.keyboard.press("u")
    _arrive(page, f"{live_server.url}/?status=needs_review&sort=oldest")
    assert Ticket.objects.get(id=third.id).status == Ticket.Status.NEEDS_REVIEW


def test_the_focused_row_survives_back(live_server, page: Page):
    taxonomy_rows()
    UserFactory(username="kim")
    made = tickets(3)
    log_in(page, live_server.url, "kim")
    page.goto(f"{live_server.url}/?sort=oldest")
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(page.locator(f"#ticket-row-{made[1].id}")).to_be_focused()
    page.keyboard.press("o")
    _arrive(page, f"{live_server.url}/tickets/{made[1].id}/?view=sort%3Doldest")
    page.go_back()
    expect(page.locator(f"#ticket-row-{made[1].id}")).to_be_focused()
    page.keyboard.press("j")
    expect(page.locator(f"#ticket-row-{made[2].id}")).to_be_focused()


def test_select_all_matching_and_set_the_priority_in_bulk(live_server, page: Page, settings):
    settings.TRIAGE_QUEUE_PAGE_SIZE = 2
    taxonomy_rows()
    UserFactory(username="kim")
    made = tickets(3)
    log_in(page, live_server.url, "kim")
    page.goto(f"{live_server.url}/?sort=oldest")
    page.get_by_label("Select all tickets on this page").check()
    expect(page.locator("#bulk-count")).to_have_text("2 selected")
    page.get_by_role("button", name="Select all 3 matching").click()
    expect(page.locator("#bulk-count")).to_have_text("All 3 matching tickets selected")
    page.get_by_label("Bulk action", exact=True).select_option("priority")
    expect(page.get_by_label("Assign to")).to_be_hidden()
    page.get_by_label("Priority", exact=True).last.select_option("low")
    page.get_by_role("button", name="Apply to selected").click()
    expect(page.locator(".messages")).to_contain_text("Set priority: 3 tickets done.")
    assert {t.priority for t in Ticket.objects.filter(id__in=[t.id for t in made])} == {"low"}


def _first_row_top(page: Page) -> float:
    return page.eval_on_selector("#ticket-list tbody tr", "r => r.getBoundingClientRect().top")


def test_only_the_chosen_bulk_actions_control_shows_from_the_first_paint(live_server, page: Page):
    # Drawn by the stylesheet, not after the script: the queue must not jump when review.js runs.
    taxonomy_rows()
    UserFactory(username="kim")
    tickets(3)
    page.set_viewport_size({"width": 1440, "height": 900})
    log_in(page, live_server.url, "kim")  # waits for the scripts
    with_script = _first_row_top(page)
    page.route("**/*.js", lambda route: route.abort())
    page.reload()
    assert _first_row_top(page) == with_script
    change = page.get_by_label("Bulk action", exact=True)
    controls = page.locator("#bulk .bulk-value")
    names = [key for key in BULK_ACTIONS if key != "accept"]
    assert sorted(controls.evaluate_all("cs => cs.map(c => c.dataset.for)")) == sorted(names)
    for name in names:
        change.select_option(name)
        shown = controls.evaluate_all("cs => cs.filter(c => c.offsetParent !== null).map(c => c.dataset.for)")
        assert shown == [name]


def test_the_skip_links_jump_to_the_first_ticket_and_to_the_ticket(live_server, page: Page):
    taxonomy_rows()
    UserFactory(username="kim")
    first, _ = tickets(2)
    log_in(page, live_server.url, "kim")
    page.goto(f"{live_server.url}/?sort=oldest")
    page.keyboard.press("Tab")  # the first stop on the page
    skip = page.get_by_role("link", name="Skip to the first ticket")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()  # shown once focused
    page.keyboard.press("Enter")
    expect(page.locator("#ticket-list")).to_be_focused()
    page.keyboard.press("j")
    row = page.locator(f"#ticket-row-{first.id}")
    expect(row).to_be_focused()
    # what a screen reader announces on focus: a row, named by its ticket
    expect(row).to_have_role("row")
    expect(row).to_have_accessible_name(re.compile(re.escape(f"{first.reference} Refund request 0")))

    page.goto(f"{live_server.url}/tickets/{first.id}/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()
