"""The ticket page's redaction overlay in a real browser: the covered boxes sit on the screenshot
where the values are, and a user allowed to see sensitive data can hide them to see the originals;
one who is not has no toggle and the boxes stay."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from playwright.sync_api import Page, expect

from tests.browser.test_review_flow import log_in, shot
from tests.factories import AttachmentFactory, RenditionFactory, UserFactory, taxonomy_rows, triaged_ticket
from triage.demo_media import render_screenshot
from triage.models import RenditionText, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "anna.schmidt@example.de"


def _ticket_with_an_address_on_screen() -> Ticket:
    ticket = triaged_ticket(subject="Refund please", requester_email="jane@customer.example")
    image = render_screenshot(title="Acme Shop - Account", lines=["Order #10234", f"Contact: {EMAIL}"])
    attachment = AttachmentFactory(
        ticket=ticket, content=image, original_name="account.png", width=1440, height=900
    )
    rendition = RenditionFactory(attachment=attachment, content=image, width=1440, height=900)
    line = f"Contact: {EMAIL}"  # where OCR read it: the right half of a line at y 300-330
    RenditionText.objects.create(
        rendition=rendition, text=line, lines=[{"text": line, "score": 0.99, "box": [400, 300, 1000, 330]}],
        engine="t",
    )  # fmt: skip
    return ticket


def _user(username: str, *, sensitive: bool):
    user = UserFactory(username=username)
    user.groups.add(Group.objects.get_or_create(name="agents")[0])
    if sensitive:
        user.user_permissions.add(Permission.objects.get(codename="view_sensitive_data"))
    return user


@pytest.mark.parametrize("mode", ["model", "everywhere"])
def test_a_user_who_may_see_originals_toggles_the_covers_off_and_on(page: Page, live_server, settings, mode):
    settings.TRIAGE_REDACT = mode
    taxonomy_rows()
    ticket = _ticket_with_an_address_on_screen()
    _user("sees-all", sensitive=True)
    log_in(page, live_server.url, "sees-all")
    page.goto(f"{live_server.url}/tickets/{ticket.id}/")

    picture = page.get_by_role("img", name="Screenshot account.png")
    cover = page.locator(".redaction-covers .cover").first
    toggle = page.get_by_label("Show the boxes that were covered")
    expect(toggle).to_be_checked()
    expect(cover).to_be_visible()
    shown, covered = picture.bounding_box(), cover.bounding_box()
    assert shown and covered
    scale = shown["width"] / 1440
    # over the address (x ~ 400 + 9/25 of 600 px), inside the line's band, not the whole line
    assert shown["x"] + 500 * scale < covered["x"] < shown["x"] + 660 * scale
    assert (
        covered["y"] < shown["y"] + 300 * scale
        and covered["y"] + covered["height"] > shown["y"] + 330 * scale
    )
    assert covered["width"] < 620 * scale
    shot(page, f"ticket-redaction-overlay-{mode}")

    toggle.uncheck()
    expect(cover).to_be_hidden()
    expect(picture).to_be_visible()
    toggle.check()
    expect(cover).to_be_visible()


def test_a_user_who_may_not_see_originals_has_no_toggle_and_the_covers_stay(
    page: Page, live_server, settings
):
    settings.TRIAGE_REDACT = "everywhere"
    taxonomy_rows()
    ticket = _ticket_with_an_address_on_screen()
    _user("sees-redacted", sensitive=False)
    log_in(page, live_server.url, "sees-redacted")
    page.goto(f"{live_server.url}/tickets/{ticket.id}/")
    expect(page.locator("#redaction")).to_contain_text("You see this ticket redacted")
    expect(page.get_by_label("Show the boxes that were covered")).to_have_count(0)
    expect(page.locator(".redaction-covers.always .cover").first).to_be_visible()
    expect(page.locator("body")).not_to_contain_text(EMAIL)
