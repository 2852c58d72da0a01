"""The API's documentation page and the account page's tokens in a real browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_review_flow import log_in
from tests.factories import UserFactory, taxonomy_rows

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_docs_page_draws_the_schema_from_our_static_files_under_our_csp(page: Page, live_server):
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server.url) else None)
    page.goto(f"{live_server.url}/api/v1/docs")
    expect(page.get_by_text("Triage API").first).to_be_visible(timeout=15000)
    expect(page.get_by_text("/api/v1/tickets/{ticket_id}/review").first).to_be_visible()
    assert not outside, f"requests outside our origin: {outside}"
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_a_token_created_on_the_account_page_is_shown_once(page: Page, live_server):
    taxonomy_rows()
    UserFactory(username="tok-agent")
    log_in(page, live_server.url, "tok-agent")
    page.goto(f"{live_server.url}/account/")
    page.get_by_label("Name", exact=True).fill("my script")
    page.get_by_role("button", name="Create token").click()
    secret = page.locator("#token-secret").inner_text()
    assert secret.startswith("tri_")
    page.goto(f"{live_server.url}/account/")
    expect(page.locator("#token-list")).to_contain_text("my script")
    assert secret not in page.content()
