"""Saved views in Chromium: save the current filters from the sidebar, see live counts, open it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_review_flow import log_in, shot
from tests.factories import UserFactory, taxonomy_rows, triaged_ticket
from triage.models import SavedView

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_save_a_view_then_its_count_and_columns_show(live_server, page: Page):
    taxonomy_rows()
    UserFactory(username="kim")
    triaged_ticket(subject="Refund please", description="I was charged twice, I want a refund for order 42")
    triaged_ticket(subject="Another refund")
    triaged_ticket(subject="Password reset")
    log_in(page, live_server.url, "kim")
    page.goto(f"{live_server.url}/?q=refund")
    expect(page.locator("#saved-views")).to_contain_text("No saved views yet.")
    page.get_by_text("Save this view…").click()
    page.get_by_label("Name").fill("Refunds")
    page.locator("#saved-view-new").get_by_label("Channel").uncheck()
    page.get_by_role("button", name="Save view").click()
    expect(page.locator(".messages")).to_contain_text("View “Refunds” saved.")
    view = SavedView.objects.get()
    assert view.query == "q=refund"
    link = page.locator("#saved-view-list a", has_text="Refunds")
    expect(link).to_have_attribute("aria-current", "page")
    expect(page.locator("#saved-view-list .count")).to_have_text("2 tickets")
    expect(page.locator("table.queue thead th", has_text="Channel")).to_be_hidden()
    expect(page.locator("table.queue thead th", has_text="Status")).to_be_visible()
    expect(page.locator("table.queue tbody tr")).to_have_count(2)
    expect(page.locator(".snippet").first).to_be_visible()
    shot(page, "queue-saved-view-desktop")
