"""Search in a real browser: each result shows where the words matched, highlighted, including text
read from a screenshot."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_review_flow import log_in, shot
from tests.factories import AttachmentFactory, RenditionFactory, UserFactory, taxonomy_rows, triaged_ticket
from triage.models import RenditionText

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_results_show_the_matched_words_highlighted_with_where_they_were_read(live_server, page: Page):
    taxonomy_rows()
    UserFactory(username="kim")
    described = triaged_ticket(subject="Help", description="My Kerberos login fails every morning")
    pictured = triaged_ticket(subject="Something is wrong", description="see picture")
    rendition = RenditionFactory(attachment=AttachmentFactory(ticket=pictured, original_name="error.png"))
    RenditionText.objects.create(rendition=rendition, text="Error: KERBEROS ticket expired", engine="test")
    triaged_ticket(subject="Unrelated", description="nothing to see")
    page.set_viewport_size({"width": 1440, "height": 900})
    log_in(page, live_server.url, "kim")
    page.get_by_role("searchbox", name="Search").fill("kerberos")
    page.get_by_role("searchbox", name="Search").press("Enter")
    expect(page.locator("table.queue tbody tr")).to_have_count(2)

    from_text = page.locator(f"#ticket-row-{described.id} .snippet")
    expect(from_text).to_be_visible()
    expect(from_text).to_contain_text("My Kerberos login fails")
    expect(from_text.locator("mark")).to_have_text("Kerberos")

    from_shot = page.locator(f"#ticket-row-{pictured.id} .snippet")
    expect(from_shot).to_be_visible()
    expect(from_shot).to_contain_text("in screenshot 'error.png': Error: KERBEROS ticket expired")
    mark = from_shot.locator("mark")
    expect(mark).to_have_text("KERBEROS")
    # highlighted: the mark's background is not the row's
    assert mark.evaluate("m => getComputedStyle(m).backgroundColor") not in (
        "rgba(0, 0, 0, 0)",
        "transparent",
    )
    shot(page, "queue-search-snippets")
