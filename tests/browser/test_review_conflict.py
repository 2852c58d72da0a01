"""A collision in two real browsers: Bob corrects the priority while Ana, on her older page, corrects
the category. Her save stops with both sides per field, keeps only her change, and saving again
keeps Bob's correction."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.test_review_flow import log_in, shot
from tests.factories import UserFactory, taxonomy_rows, triaged_ticket
from triage.models import Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_saving_again_after_a_conflict_keeps_the_colleagues_correction(live_server, browser: Browser):
    taxonomy_rows()
    UserFactory(username="ana", first_name="Ana", last_name="")
    UserFactory(username="bob", first_name="Bob", last_name="")
    ticket = triaged_ticket(subject="Charged twice")  # proposed: bug / high
    url = f"{live_server.url}/tickets/{ticket.id}/"
    ana = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    bob = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    log_in(ana, live_server.url, "ana")
    log_in(bob, live_server.url, "bob")
    ana.goto(url)
    bob.goto(url)

    bob.get_by_label("Priority").select_option("urgent")
    bob.get_by_role("button", name="Save & accept").click()
    expect(bob).to_have_url(f"{live_server.url}/")

    ana.get_by_label("Category").select_option("billing")  # her page still says High
    expect(ana.get_by_label("Priority")).to_have_value("high")
    ana.get_by_role("button", name="Save & accept").click()
    conflict = ana.locator("#review-conflict")
    expect(conflict).to_contain_text("This ticket changed while you were reviewing it")
    expect(conflict).to_contain_text("The form keeps only what you changed (Category)")
    rows = conflict.locator("table.conflict-table tbody tr")
    expect(rows.filter(has_text="Priority")).to_contain_text("Urgent")  # Bob's side, beside hers
    expect(rows.filter(has_text="Category")).to_contain_text("Billing & payments")
    expect(ana.get_by_label("Priority")).to_have_value("urgent")  # the stale High is gone
    expect(ana.get_by_label("Category")).to_have_value("billing")  # her change is kept
    shot(ana, "review-conflict")

    ana.get_by_role("button", name="Save & accept").click()
    expect(ana).to_have_url(f"{live_server.url}/")
    ticket.refresh_from_db()
    assert (ticket.category, ticket.priority, ticket.status) == ("billing", "urgent", Ticket.Status.REVIEWED)
    ana.context.close()
    bob.context.close()
