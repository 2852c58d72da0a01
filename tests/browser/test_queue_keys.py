"""Working the queue from the keyboard in a real browser: move, tick, bulk-accept, search, open."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_review_flow import log_in
from tests.factories import UserFactory, taxonomy_rows, triaged_ticket
from triage.models import Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_keys_tick_two_tickets_and_accept_them_in_bulk_then_search_and_open(live_server, page: Page):
    taxonomy_rows()
    UserFactory(username="kim")
    older, newer, other = (
        triaged_ticket(subject=s) for s in ("Older refund", "Newer refund", "Password reset")
    )
    log_in(page, live_server.url, "kim")
    page.goto(f"{live_server.url}/?sort=oldest")
    page.keyboard.press("j")
    expect(page.locator(f"#ticket-row-{older.id}")).to_have_class("status-needs_review kbd-focus")
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    expect(page.locator(f"#ticket-row-{newer.id} input[type=checkbox]")).to_be_checked()
    page.get_by_role("button", name="Accept selected as proposed").click()
    expect(page.locator(".messages")).to_contain_text("Accepted 2 tickets as proposed.")
    assert {t.status for t in Ticket.objects.filter(id__in=[older.id, newer.id])} == {Ticket.Status.REVIEWED}
    assert Ticket.objects.get(id=other.id).status == Ticket.Status.NEEDS_REVIEW

    page.keyboard.press("/")
    page.keyboard.type("password")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/?q=password&sort=oldest")  # only what is applied, in the URL
    page.evaluate("document.activeElement && document.activeElement.blur()")  # keys are for the queue again
    page.keyboard.press("j")
    page.keyboard.press("o")
    expect(page).to_have_url(f"{live_server.url}/tickets/{other.id}/?view=q%3Dpassword%26sort%3Doldest")
