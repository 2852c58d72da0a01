"""New tickets reach an open queue without a reload (issue 7), in a real browser: a colleague
creates a ticket in another browser context, the open queue announces it, shows it in place when
asked, and its row turns to "Needs review" when a real worker has triaged it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.test_review_flow import log_in
from tests.factories import UserFactory, taxonomy_rows, triaged_ticket
from triage.models import Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("broker", ["redis"], indirect=True)  # the production broker only
def test_a_ticket_created_elsewhere_appears_in_the_open_queue_and_its_row_updates_when_triaged(
    live_server, page: Page, browser: Browser, settings, start_worker
):
    settings.TRIAGE_QUEUE_LIVE_INTERVAL_S = 1
    settings.TRIAGE_POLL_INTERVAL_S = 1
    taxonomy_rows()
    UserFactory(username="kim")
    UserFactory(username="lee")
    waiting = triaged_ticket(subject="Older refund question")

    log_in(page, live_server.url, "kim")
    page.evaluate("window.sameDocument = true")  # gone if the page were navigated or reloaded
    box = page.locator(f"#ticket-row-{waiting.id} input[type=checkbox]")
    box.check()

    colleague = browser.new_context()
    other = colleague.new_page()
    log_in(other, live_server.url, "lee")
    other.goto(f"{live_server.url}/tickets/new/")
    other.get_by_label("Subject").fill("Checkout button does nothing")
    other.get_by_label("Description").fill("Clicking Pay now does nothing since this morning.")
    other.get_by_role("button", name="Create ticket").click()
    expect(other.locator("h1")).to_contain_text("Checkout button does nothing")
    created = Ticket.objects.get(subject="Checkout button does nothing")
    colleague.close()

    live = page.locator("#queue-live")
    expect(live).to_contain_text("1 new ticket")
    # announced, not forced in: the reviewer's tick is still there and the table was not redrawn
    expect(box).to_be_checked()
    expect(page.locator(f"#ticket-row-{created.id}")).to_have_count(0)

    live.get_by_role("button", name="Show").click()
    row = page.locator(f"#ticket-row-{created.id}")
    expect(row).to_contain_text("Checkout button does nothing")
    assert Ticket.objects.get(id=created.id).status != Ticket.Status.NEEDS_REVIEW  # no worker yet
    expect(row).not_to_contain_text("Needs review")
    expect(live).not_to_contain_text("new ticket")  # counted from the new list's newest ticket

    start_worker()  # the worker triages it; the row polls itself and turns to "Needs review"
    expect(row).to_contain_text("Needs review", timeout=60_000)
    expect(row.locator("input[type=checkbox]")).to_have_count(1)
    assert page.evaluate("window.sameDocument") is True
    assert page.url == f"{live_server.url}/"
