"""The privacy page and an expired ticket in a real browser, under our Content-Security-Policy."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.browser.test_review_flow import demo_ticket, log_in, shot
from tests.factories import UserFactory, taxonomy_rows
from triage.models import ErasureRecord, Ticket
from triage.services.retention import retention_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_previews_and_erases_a_requester_and_sees_an_expired_ticket(page: Page, live_server):
    taxonomy_rows()
    erased = demo_ticket()
    expired = demo_ticket()
    Ticket.objects.filter(id=expired.id).update(
        requester_email="bob@customer.example", created_at=timezone.now() - datetime.timedelta(days=100)
    )
    retention_run(media_days=30, mail_days=0)
    UserFactory(username="root", is_superuser=True, is_staff=True)
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    log_in(page, live_server.url, "root")

    page.goto(f"{live_server.url}/tickets/{expired.id}/")
    expect(page.locator(".media-expired")).to_contain_text("The media has expired")
    shot(page, "ticket-media-expired")

    page.locator("#settings-menu summary").click()
    page.get_by_role("link", name="Users").click()
    page.get_by_role("link", name="Privacy: retention").click()
    expect(page).to_have_url(f"{live_server.url}/privacy/")
    form = page.locator("#requester")
    form.get_by_label("Requester's email address").fill("jane@customer.example")
    form.get_by_role("button", name="Preview").click()
    expect(page.locator("#erasure-plan")).to_contain_text("Tickets")
    page.locator("#requester").get_by_label("I understand").check()
    page.locator("#requester").get_by_role("button", name="Erase").click()
    expect(page.locator(".flash-success")).to_contain_text("Erased: 1 tickets, 3 attachments")
    expect(page.locator("#erasures")).to_contain_text("root")
    shot(page, "privacy-page")
    assert Ticket.objects.get(id=erased.id).erased_at is not None
    assert ErasureRecord.objects.count() == 1
    assert violations == []
