"""A manager sets a service level in Chromium; the queue shows the time left and sorts by it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.browser.test_review_flow import log_in, shot
from tests.factories import UserFactory, taxonomy_rows, triaged_ticket
from triage.models import Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_adds_a_policy_and_the_queue_shows_time_left_and_sorts_by_it(live_server, page: Page):
    taxonomy_rows()
    manager = UserFactory(username="mona")
    manager.groups.add(Group.objects.get_or_create(name="managers")[0])
    old = triaged_ticket(subject="Waiting since this morning")  # proposed priority: high
    Ticket.objects.filter(id=old.id).update(created_at=timezone.now() - dt.timedelta(hours=5))
    fresh = triaged_ticket(subject="Just arrived")
    log_in(page, live_server.url, "mona")

    page.locator("#settings-menu summary").click()
    page.get_by_role("link", name="SLAs").click()
    page.get_by_label("Priority").select_option(label="High")
    page.get_by_label("Time to first decision").fill("4h")
    page.get_by_label("Time to resolution").fill("2d")
    page.get_by_role("button", name="Add").click()
    expect(page.locator(".messages")).to_contain_text("Policy saved")
    expect(page.locator("#sla-policies")).to_contain_text("High")
    shot(page, "sla-policies-desktop")

    page.goto(f"{live_server.url}/")
    page.get_by_label("Sort").select_option("due")
    page.get_by_role("button", name="Apply", exact=True).click()
    rows = page.locator("table.queue tbody tr")
    expect(rows.nth(0)).to_contain_text("Waiting since this morning")
    expect(rows.nth(0).locator(".sla")).to_contain_text("Overdue 1h")
    expect(rows.nth(0).locator(".sla")).to_have_class("sla sla-overdue")
    expect(rows.nth(1)).to_contain_text("Just arrived")
    expect(rows.nth(1).locator(".sla")).to_contain_text(" left")
    assert fresh.id != old.id
    shot(page, "queue-sla-desktop")

    # at phone width the SLA page's content fits (the header's menu is the layout's own business)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/sla/")
    assert page.evaluate("document.querySelector('main').scrollWidth <= window.innerWidth")
    shot(page, "sla-policies-phone")
    page.goto(f"{live_server.url}/?sort=due")
    shot(page, "queue-sla-phone")
