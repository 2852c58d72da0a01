"""The review flow in a real browser (Debian's chromium) against a live server."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.factories import (
    PASSWORD,
    AttachmentFactory,
    RenditionFactory,
    TicketFactory,
    UserFactory,
    failed_ticket,
    png_bytes,
    taxonomy_label,
    taxonomy_rows,
    triaged_ticket,
)
from triage.demo_media import render_screenshot
from triage.models import Attachment, Rendition, ReviewDecision, Ticket, TriageRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(autouse=True)
def _taxonomy():
    taxonomy_rows()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def log_in(page: Page, base: str, username: str, *, screenshot: str = "") -> None:
    page.goto(f"{base}/accounts/login/")
    if screenshot:
        shot(page, screenshot)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/")
    page.wait_for_load_state()  # the queue's scripts have run: keys are bound, the layout final


def demo_ticket() -> Ticket:
    """A triaged ticket with a screenshot and a recording, as the workers leave it."""
    ticket = triaged_ticket(
        subject="Charged twice for my March invoice, then checkout failed",
        requester_email="jane@customer.example",
        description="Hi,\nI was charged twice for invoice 2026-03 and when I tried again the checkout "
        "showed an error.\nScreenshot and recording attached.\n\nJane",
    )
    screenshot = render_screenshot(
        title="Acme Shop - Checkout",
        lines=["Order #10234", "Card ending 4242", "Total: 129.00 EUR", "[ Pay now ]"],
        error_dialog="Payment failed: HTTP 500 Internal Server Error",
    )
    image = AttachmentFactory(
        ticket=ticket, content=screenshot, original_name="checkout.png", width=1440, height=900
    )
    RenditionFactory(attachment=image, content=screenshot, width=1440, height=900)
    video = AttachmentFactory(ticket=ticket, video=True, original_name="checkout-recording.webm")
    for index, ms in enumerate([0, 1500, 3000, 4500]):
        frame = render_screenshot(
            title="Acme Shop - Checkout",
            lines=["Order #10234", f"t={ms} ms"],
            width=640,
            height=360,
            error_dialog="Payment failed" if ms >= 3000 else None,
        )
        RenditionFactory(
            attachment=video,
            kind=Rendition.Kind.FRAME,
            index=index,
            content=frame,
            width=640,
            height=360,
            timestamp_ms=ms,
        )
    AttachmentFactory(
        ticket=ticket,
        original_name="invoice.pdf.png",
        status=Attachment.Status.REJECTED,
        reject_reason="not a supported screenshot or recording (looks like PDF)",
    )
    return ticket


def other_tickets() -> None:
    TicketFactory(subject="Dashboard takes 30 seconds to load", status=Ticket.Status.PROCESSING)
    TicketFactory(subject="How do I export my data to CSV?", status=Ticket.Status.TRIAGING)
    failed_ticket(subject="Webhook deliveries stopped after key rotation")
    reviewed = triaged_ticket(subject="Cannot log in after password reset", channel=Ticket.Channel.EMAIL)
    Ticket.objects.filter(id=reviewed.id).update(status=Ticket.Status.REVIEWED, category="account_access")


def test_a_reviewer_corrects_the_category_and_sees_it_in_the_queue(live_server, page: Page):
    UserFactory(username="rita", first_name="Rita", last_name="Alves")
    other_tickets()
    ticket = demo_ticket()
    old_label, new_label = taxonomy_label("category", "bug"), taxonomy_label("category", "billing")

    log_in(page, live_server.url, "rita", screenshot="login")
    row = page.locator(f"#ticket-row-{ticket.id}")
    expect(row).to_contain_text("Needs review")
    expect(row).to_contain_text(old_label)
    shot(page, "queue")

    row.get_by_role("link").click()
    expect(page).to_have_url(f"{live_server.url}/tickets/{ticket.id}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(ticket.subject)
    expect(page.locator("#proposal")).to_contain_text("92%")
    expect(page.locator(".frames img")).to_have_count(4)
    page.wait_for_load_state("networkidle")
    shot(page, "ticket")

    category = page.get_by_label("Category")
    expect(category).to_have_value("bug")
    category.select_option("billing")
    expect(page.locator('.field[data-proposed="bug"]')).to_have_class(re.compile(r"\bchanged\b"))
    page.get_by_role("button", name="Save & accept").click()

    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator(".flash-success")).to_contain_text(f"{ticket.reference} reviewed: corrected category")
    row = page.locator(f"#ticket-row-{ticket.id}")
    expect(row).to_contain_text("Open")  # a reviewed ticket is Open until solved
    expect(row).to_contain_text(new_label)
    shot(page, "queue-after-review")

    decision = ReviewDecision.objects.get(ticket=ticket)
    assert decision.action == ReviewDecision.Action.CORRECT
    assert decision.user.username == "rita"
    assert decision.before["category"] == "bug" and decision.after["category"] == "billing"
    assert decision.before["priority"] == decision.after["priority"] == "high"
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.REVIEWED and ticket.category == "billing"


def test_a_processing_row_updates_itself_and_then_stops_polling(live_server, page: Page, settings):
    settings.TRIAGE_POLL_INTERVAL_S = 1
    UserFactory(username="rita")
    ticket = TicketFactory(subject="Recording of the crash", status=Ticket.Status.PROCESSING)
    polls: list[float] = []
    page.on("request", lambda r: polls.append(time.monotonic()) if f"row={ticket.id}" in r.url else None)

    log_in(page, live_server.url, "rita")
    row = page.locator(f"#ticket-row-{ticket.id}")
    expect(row).to_contain_text("Processing media")
    expect(row).to_have_attribute("hx-trigger", "every 1s")
    page.wait_for_timeout(1500)
    assert polls, "the processing row never polled"

    # what the workers do, done by hand
    run = TriageRun.objects.create(ticket=ticket, provider="local", model="m", status="DONE", result={})
    Ticket.objects.filter(id=ticket.id).update(
        status=Ticket.Status.NEEDS_REVIEW, category="bug", confidence=0.42, latest_run=run
    )
    expect(row).to_contain_text("Needs review", timeout=5000)
    expect(row).to_contain_text("42%")
    assert row.get_attribute("hx-trigger") is None
    settled = len(polls)
    page.wait_for_timeout(2500)
    assert len(polls) == settled, "the row kept polling after the ticket was triaged"


def test_the_ticket_page_reloads_with_the_review_form_when_triage_finishes(live_server, page: Page, settings):
    settings.TRIAGE_POLL_INTERVAL_S = 1
    UserFactory(username="rita")
    ticket = TicketFactory(subject="Login loop on Safari", status=Ticket.Status.PROCESSING)
    attachment = AttachmentFactory(
        ticket=ticket, status=Attachment.Status.PROCESSING, content=png_bytes(300, 200)
    )

    log_in(page, live_server.url, "rita")
    page.goto(f"{live_server.url}/tickets/{ticket.id}/")
    expect(page.locator("#ticket-status-badge")).to_contain_text("Processing media")
    expect(page.locator("#review-form")).to_have_count(0)

    Attachment.objects.filter(id=attachment.id).update(status=Attachment.Status.DONE)
    Ticket.objects.filter(id=ticket.id).update(status=Ticket.Status.TRIAGING)
    expect(page.locator("#ticket-status-badge")).to_contain_text("Triaging", timeout=5000)

    failed_run = TriageRun.objects.create(
        ticket=ticket,
        provider="kimi",
        model="kimi-k2.6",
        status=TriageRun.Status.FAILED,
        error_kind=TriageRun.ErrorKind.TIMEOUT,
        error_message="Request timed out after 300 s",
        latency_ms=300012,
    )
    Ticket.objects.filter(id=ticket.id).update(status=Ticket.Status.MANUAL_TRIAGE, latest_run=failed_run)
    # the finished fragment asks htmx for a full reload: the review form appears without a click
    expect(page.locator("#review-form")).to_be_visible(timeout=5000)
    expect(page.locator("#ticket-status-badge")).to_contain_text("Needs manual triage")
    expect(page.get_by_role("alert")).to_contain_text("Needs manual triage: model API timed out.")
    expect(page.get_by_role("button", name="Accept", exact=True)).to_have_count(0)
    shot(page, "ticket-manual-triage")


def test_the_new_ticket_form_refuses_an_oversize_file_before_uploading(live_server, page: Page, settings):
    settings.TRIAGE_MAX_IMAGE_BYTES = 200
    UserFactory(username="rita")
    log_in(page, live_server.url, "rita")
    page.get_by_role("link", name="New ticket", exact=True).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New ticket")
    page.get_by_label("Subject").fill("Checkout fails")
    page.get_by_label("Screenshots and recordings").set_input_files(
        [
            {
                "name": "big.png",
                "mimeType": "image/png",
                "buffer": png_bytes(400, 300, (10, 200, 30)) + b"\0" * 500,
            }
        ]
    )
    expect(page.locator("#file-list")).to_contain_text("'big.png' is larger than 200 B.")
    shot(page, "new-ticket")
    page.get_by_role("button", name="Create ticket").click()
    page.wait_for_timeout(300)
    expect(page).to_have_url(f"{live_server.url}/tickets/new/")
    assert not Ticket.objects.exists()


def test_a_poll_after_the_session_ended_goes_to_the_login_page(live_server, page: Page, settings):
    settings.TRIAGE_POLL_INTERVAL_S = 1
    UserFactory(username="rita")
    ticket = TicketFactory(status=Ticket.Status.PROCESSING)
    log_in(page, live_server.url, "rita")
    expect(page.locator(f"#ticket-row-{ticket.id}")).to_contain_text("Processing media")

    page.context.clear_cookies()  # the session is gone; the next poll is redirected to the login page
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=(/|%2F)$"), timeout=5000)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
