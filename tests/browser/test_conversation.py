"""The conversation in a real browser: a reply written from a macro goes out by email and shows
in the timeline; a colleague named in a note sees the badge."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_review_flow import log_in
from tests.factories import TicketFactory, UserFactory, taxonomy_rows
from triage.models import Macro, OutboundEmail, Ticket
from triage.services.outbound import outbound_email_send
from triage.tasks import outbound_email_send_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _setup(settings, monkeypatch):
    taxonomy_rows()
    settings.TRIAGE_ACK_ENABLED = False
    # the outbound worker's job, run in the live server's thread when it is published
    monkeypatch.setattr(
        outbound_email_send_task,
        "delay",
        lambda **kw: outbound_email_send(outbound_email_id=kw["outbound_email_id"]),
    )


def test_a_reply_from_a_macro_is_sent_and_shows_in_the_timeline(live_server, page: Page, smtp_server):
    UserFactory(username="ann", first_name="Ann", last_name="Lee")
    ticket = TicketFactory(
        status=Ticket.Status.REVIEWED, subject="Card declined", requester_email="maria.lopez@example.com"
    )
    Macro.objects.create(
        name="Card fixed",
        body="Hi {{ requester.first_name }}, {{ ticket.reference }} is fixed. {{ agent.name }}",
    )
    log_in(page, live_server.url, "ann")
    page.goto(f"{live_server.url}/tickets/{ticket.id}/")
    page.locator("#macro-insert").click()
    body = page.locator("#reply-body")
    expect(body).to_have_value(f"Hi Maria, {ticket.reference} is fixed. Ann Lee")
    body.fill(body.input_value() + "\nPlease try again.")
    page.locator("#reply-send").click()
    entry = page.locator(".tl-reply").last
    expect(entry).to_contain_text("Please try again.")
    expect(entry.locator(".mail-state")).to_have_text("sent", timeout=15_000)
    got = smtp_server.wait_for(1)
    assert got[0].rcpt_tos == ["maria.lopez@example.com"]
    assert "Please try again." in got[0].message.get_content()
    assert OutboundEmail.objects.get().status == OutboundEmail.Status.SENT


def test_a_colleague_mentioned_in_a_note_sees_the_badge(live_server, page: Page, smtp_server):
    UserFactory(username="ann")
    UserFactory(username="bob", email="bob@team.example")
    ticket = TicketFactory(status=Ticket.Status.REVIEWED, requester_email="maria@example.com")
    log_in(page, live_server.url, "ann")
    page.goto(f"{live_server.url}/tickets/{ticket.id}/")
    page.locator("#note-body").fill("Can you check the refund, @bob?")
    page.locator("#note-add").click()
    expect(page.locator(".tl-note .mention")).to_have_text("@bob")
    page.context.clear_cookies()
    log_in(page, live_server.url, "bob")
    expect(page.locator("#mention-badge .badge-mention")).to_have_text("1")
    page.locator("#mention-badge").click()
    page.get_by_role("link", name=ticket.reference).first.click()
    expect(page.locator(".tl-note")).to_contain_text("Can you check the refund")
    expect(page.locator("#mention-badge .badge-mention")).to_have_count(0)


def test_the_composers_show_the_whole_address_and_the_note_hint_as_typed(live_server, page: Page):
    """The To field cut a long address at 20 characters, and the note's formatting hint was set in
    capitals with its heading ("**BOLD**, @USERNAME"), which is not what one types."""
    UserFactory(username="ann")
    ticket = TicketFactory(
        status=Ticket.Status.REVIEWED, requester_email="buchhaltung.rechnungen@demo.example.com"
    )
    log_in(page, live_server.url, "ann")
    page.goto(f"{live_server.url}/tickets/{ticket.id}/")
    to = page.locator("#reply-to")
    expect(to).to_have_value("buchhaltung.rechnungen@demo.example.com")
    assert to.evaluate("e => e.scrollWidth <= e.clientWidth"), "the address is cut"
    hint = page.locator("#note-form h3 .muted")
    expect(hint).to_contain_text("**bold**")
    assert hint.evaluate("e => getComputedStyle(e).textTransform") == "none"
