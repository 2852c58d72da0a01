"""The managers' health page and the spend-cap banner in a real browser."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import Page, expect

from tests.browser.test_review_flow import log_in, shot
from tests.factories import TicketFactory, UserFactory, taxonomy_rows
from triage.models import TriageRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_sees_the_cap_banner_and_the_health_page_agent_does_not(page: Page, live_server, settings):
    taxonomy_rows()
    settings.TRIAGE_PROVIDER = "local"
    settings.KIMI_DAILY_SPEND_CAP_USD = Decimal("1")
    TriageRun.objects.create(
        ticket=TicketFactory(), provider="kimi", model="kimi-k2.6", cost_usd=Decimal("1.2")
    )
    manager = UserFactory(username="boss")
    manager.groups.add(Group.objects.get_or_create(name="managers")[0])
    UserFactory(username="agent-b")

    log_in(page, live_server.url, "boss")
    banner = page.locator("#spend-cap-banner")
    expect(banner).to_have_text(
        "Daily Kimi spend cap of $1 reached: new tickets use the offline model until midnight UTC."
    )
    page.get_by_role("link", name="Health").click()
    expect(page).to_have_url(f"{live_server.url}/health/")
    expect(page.locator("#health-spend")).to_contain_text("$1.2000 of $1 reached")
    expect(page.locator("#health-runs")).to_have_text("1 (1 on Kimi)")
    expect(page.locator("#health-balance")).to_contain_text("the offline model has no account")
    shot(page, "health-manager")

    page.get_by_role("button", name="Log out").click()
    log_in(page, live_server.url, "agent-b")
    expect(page.locator("#spend-cap-banner")).to_have_count(0)
    expect(page.get_by_role("link", name="Health")).to_have_count(0)
    response = page.goto(f"{live_server.url}/health/")
    assert response is not None and response.status == 403
