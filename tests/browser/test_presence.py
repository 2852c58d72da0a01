"""Two reviewers in two browsers: each sees the other on the ticket page, viewing then editing, and
the queue marks the ticket someone is editing."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.test_review_flow import log_in, shot
from tests.factories import UserFactory, taxonomy_rows, triaged_ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_two_reviewers_see_each_other_on_the_ticket_and_in_the_queue(live_server, browser: Browser):
    taxonomy_rows()
    UserFactory(username="ana", first_name="Ana", last_name="")
    UserFactory(username="bob", first_name="Bob", last_name="")
    ticket = triaged_ticket(subject="Charged twice")
    url = f"{live_server.url}/tickets/{ticket.id}/"
    ana = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    bob = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    log_in(ana, live_server.url, "ana")
    log_in(bob, live_server.url, "bob")
    ana.goto(url)
    bob.goto(url)
    expect(bob.locator("#presence")).to_contain_text("Ana is viewing this ticket")
    expect(bob.locator("#presence")).not_to_contain_text("Bob")  # never yourself

    ana.get_by_label("Category").select_option("billing")  # a change: Ana is now editing
    # Bob's page asks again on its next poll (every 10 s)
    expect(bob.locator("#presence")).to_contain_text("Ana is editing this ticket", timeout=25_000)
    expect(bob.locator("#presence .presence-editing")).to_be_visible()
    shot(bob, "presence-ticket")

    bob.goto(f"{live_server.url}/")
    expect(bob.locator(f"#ticket-row-{ticket.id}")).to_contain_text("Ana editing")
    shot(bob, "presence-queue")
    ana.context.close()
    bob.context.close()
