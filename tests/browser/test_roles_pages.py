"""The taxonomy editor and the users page in a real browser, under our Content-Security-Policy:
every page a role may open is visited and no CSP violation may be reported."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from playwright.sync_api import Page, expect

from tests.browser.test_review_flow import demo_ticket, log_in, shot
from tests.factories import UserFactory, taxonomy_rows
from triage.models import TaxonomyChange, TaxonomyValue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _watch_csp(page: Page) -> list[str]:
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    return violations


def test_a_manager_renames_and_deactivates_a_value_without_csp_violations(page: Page, live_server):
    taxonomy_rows()
    ticket = demo_ticket()
    manager = UserFactory(username="mona")
    manager.groups.add(Group.objects.get_or_create(name="managers")[0])
    violations = _watch_csp(page)
    log_in(page, live_server.url, "mona")
    for path in ("/", f"/tickets/{ticket.id}/", "/tickets/new/", "/reports/", "/health/", "/health/model/"):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
    page.locator("#settings-menu summary").click()
    page.locator("#settings-menu").get_by_role("link", name="Taxonomy").click()
    expect(page).to_have_url(f"{live_server.url}/taxonomy/")
    row = TaxonomyValue.objects.get(field="queue", value="tier2")
    page.get_by_label("Label of tier2").fill("Second line")
    page.locator(f"#taxonomy-value-{row.id}").get_by_role("button", name="Rename").click()
    expect(page.locator(".flash-success")).to_contain_text("Renamed to “Second line”.")
    page.locator(f"#taxonomy-value-{row.id}").get_by_role("button", name="Deactivate").click()
    expect(page.locator(f"#taxonomy-value-{row.id}")).to_contain_text("inactive")
    expect(page.locator("#taxonomy-changes")).to_contain_text("mona")
    shot(page, "taxonomy-editor")
    assert [c.action for c in TaxonomyChange.objects.order_by("id")] == ["RENAME", "DEACTIVATE"]
    assert violations == []


def test_an_admin_creates_an_agent_who_then_sees_no_manager_links(page: Page, live_server):
    taxonomy_rows()
    UserFactory(username="root", is_superuser=True, is_staff=True)
    violations = _watch_csp(page)
    log_in(page, live_server.url, "root")
    page.locator("#settings-menu summary").click()
    page.get_by_role("link", name="Users").click()
    form = page.locator("#user-create")
    form.get_by_label("Username").fill("newbie")
    form.get_by_label("Email").fill("newbie@example.com")
    form.get_by_label("Role").select_option("agent")
    form.get_by_role("button", name="Send invitation").click()
    expect(page.locator(".flash-success")).to_contain_text("Invited newbie")
    shot(page, "users-page")
    page.goto(f"{live_server.url}/admin/")
    expect(page.locator("body")).to_contain_text("Site administration")
    page.goto(f"{live_server.url}/")
    page.get_by_role("button", name="Log out").click()
    (invitation,) = mail.outbox
    link = re.search(r"https?://\S+/accounts/reset/\S+/", invitation.body).group(0)
    page.goto(live_server.url + urlsplit(link).path)
    expect(page.get_by_role("heading", name="Choose a password")).to_be_visible()
    page.get_by_label("New password", exact=True).fill("lighthouse-otter-42")
    page.get_by_label("New password confirmation").fill("lighthouse-otter-42")
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("heading", name="Password set")).to_be_visible()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("newbie")
    page.get_by_label("Password").fill("lighthouse-otter-42")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}/")
    for name in ("Taxonomy", "Users", "Reports", "Admin"):
        expect(page.get_by_role("link", name=name)).to_have_count(0)
    response = page.goto(f"{live_server.url}/taxonomy/")
    assert response is not None and response.status == 403
    assert violations == []
