"""The offline duplicate proposal on a ticket page, in a real browser (Debian's chromium)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.browser.test_review_flow import log_in
from tests.factories import AttachmentFactory, RenditionFactory, UserFactory, taxonomy_rows, triaged_ticket
from triage.models import RenditionText, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _with_screen(subject: str, description: str, ocr: str, *, ago: timedelta) -> Ticket:
    ticket = triaged_ticket(subject=subject, description=description)
    Ticket.objects.filter(id=ticket.id).update(created_at=timezone.now() - ago)
    rendition = RenditionFactory(attachment=AttachmentFactory(ticket=ticket))
    RenditionText.objects.create(rendition=rendition, text=ocr, engine="test")
    return ticket


def test_a_reviewer_sees_the_likely_duplicate_with_its_reason_and_marks_it(live_server, page: Page):
    taxonomy_rows()
    UserFactory(username="rita")
    original = _with_screen(
        "Sync stopped", "The sync stopped this morning.", "Sync error E_TIMEOUT", ago=timedelta(days=1)
    )
    _with_screen(
        "Sync stopped", "The sync stopped too.", "Sync failed: SYNC_CONFLICT (E2231)", ago=timedelta(hours=5)
    )
    new = _with_screen(
        "Data not syncing",
        "Nothing arrives on my phone.",
        "00:00:02.500\nSync error E_TIMEOUT at 00:00:02.500\nREC",
        ago=timedelta(0),
    )
    log_in(page, live_server.url, "rita")
    page.goto(f"{live_server.url}/tickets/{new.id}/")
    similar = page.locator("#similar")
    expect(similar).to_contain_text("Similar tickets")
    expect(similar.locator("li").first).to_contain_text(original.reference)
    expect(similar.locator("li").first).to_contain_text("same error 'E_TIMEOUT' in screenshot")
    similar.get_by_role("button", name=f"Mark as duplicate of {original.reference}").click()
    expect(page.locator("#ticket-actions")).to_contain_text(f"Duplicate of {original.reference}")
