"""A manager defines a GitHub destination and a rule in a real browser, an agent accepts a ticket,
a real `handoff` worker opens the issue on a local GitHub, and the ticket page links to it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_review_flow import log_in
from tests.factories import taxonomy_rows, triaged_ticket
from tests.handoff_fakes import GITHUB_REPO, GITHUB_TOKEN
from tests.security.conftest import role_user
from tests.worker import wait_for
from triage.models import Handoff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_define_a_rule_review_a_ticket_and_see_the_link_to_the_issue(
    live_server, page: Page, start_worker, threaded_handoff_fakes
):
    fakes = threaded_handoff_fakes
    taxonomy_rows()
    role_user("manager", "mia")
    ticket = triaged_ticket(subject="Checkout returns HTTP 500")
    start_worker(queues="handoff", TRIAGE_WEBHOOK_ALLOW_PRIVATE_URLS="true")

    log_in(page, live_server.url, "mia")
    page.goto(f"{live_server.url}/integrations/")
    destination = page.locator("#destination-form")
    destination.get_by_label("Kind").select_option("github")
    destination.get_by_label("Name").fill("GitHub web")
    destination.get_by_label("Service URL").fill(fakes.base_url + "/github")
    destination.get_by_label("Project").fill(GITHUB_REPO)
    destination.get_by_label("API token (Slack: the incoming-webhook URL)").fill(GITHUB_TOKEN)
    destination.get_by_role("button", name="Save destination").click()
    expect(page.locator("#destinations")).to_contain_text("stored (encrypted)")
    assert GITHUB_TOKEN not in page.content()

    rule = page.locator("#rule-form")
    rule.get_by_label("Name").fill("Bugs to GitHub")
    rule.get_by_label("Category").select_option("bug")
    rule.get_by_label("GitHub web").check()
    rule.get_by_role("button", name="Save rule").click()
    expect(page.locator("#rules")).to_contain_text("category = bug")

    page.goto(f"{live_server.url}/tickets/{ticket.id}/")
    page.get_by_role("button", name="Accept", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/")
    wait_for(
        lambda: Handoff.objects.filter(ticket=ticket, status="sent").exists(),
        timeout=60,
        message="the worker to open the GitHub issue",
    )
    page.goto(f"{live_server.url}/tickets/{ticket.id}/")
    link = page.locator("#handoffs a.handoff-link")
    expect(link).to_have_attribute("href", f"https://github.com/{GITHUB_REPO}/issues/1")
    expect(page.locator("#handoffs")).to_contain_text("rule “Bugs to GitHub”")
    assert len(fakes.github.issues) == 1
