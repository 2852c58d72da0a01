"""The header in a real browser: an admin's links on one line, the settings in one menu."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_review_flow import log_in
from tests.factories import UserFactory, taxonomy_rows

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _rows(page: Page) -> set[float]:
    """The distinct tops of the main navigation's items: one value when they sit on one line."""
    return set(
        page.evaluate(
            "Array.from(document.querySelectorAll('nav.nav > a, nav.nav > details > summary'))"
            ".map(e => Math.round(e.getBoundingClientRect().top))"
        )
    )


@pytest.mark.parametrize("width", [1280, 1440])
def test_an_admins_header_is_one_line_and_settings_open_from_one_menu(page: Page, live_server, width):
    """An admin's eleven links wrapped onto a second line at 1440 px; the desk's set-up pages are
    now one Settings menu."""
    taxonomy_rows()
    UserFactory(username="ada", is_superuser=True, is_staff=True)
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server.url, "ada")
    assert len(_rows(page)) == 1, _rows(page)
    menu = page.locator("#settings-menu")
    names = ["Taxonomy", "SLAs", "Macros", "Acknowledgement", "Integrations", "Users", "Admin"]
    for name in names:
        expect(menu.get_by_role("link", name=name)).to_be_hidden()
    menu.locator("summary").click()
    for name in names:
        expect(menu.get_by_role("link", name=name)).to_be_visible()
    page.keyboard.press("Escape")
    expect(menu.get_by_role("link", name="SLAs")).to_be_hidden()
    menu.locator("summary").click()
    page.locator("#user-menu summary").click()  # opening the other menu closes this one
    expect(menu.get_by_role("link", name="SLAs")).to_be_hidden()
    expect(page.locator("#user-menu").get_by_role("link", name="Your account")).to_be_visible()
    page.locator("h1").first.click()
    menu.locator("summary").click()
    menu.get_by_role("link", name="SLAs").click()
    expect(page).to_have_url(f"{live_server.url}/sla/")
    expect(page.locator("#settings-menu summary")).to_have_class("current")
    expect(page.locator('#settings-menu a[href="/sla/"]')).to_have_attribute("aria-current", "page")


def test_an_agent_has_no_settings_menu(page: Page, live_server):
    taxonomy_rows()
    UserFactory(username="ana")
    log_in(page, live_server.url, "ana")
    expect(page.locator("#settings-menu")).to_have_count(0)
    assert len(_rows(page)) == 1


def test_on_a_phone_the_settings_open_in_line_and_are_reachable(page: Page, live_server):
    """The header's nav scrolls sideways on a phone, which clipped the dropdown to nothing."""
    taxonomy_rows()
    UserFactory(username="ada", is_superuser=True, is_staff=True)
    page.set_viewport_size({"width": 390, "height": 800})
    log_in(page, live_server.url, "ada")
    page.locator("#settings-menu summary").click()
    link = page.locator("#settings-menu").get_by_role("link", name="Taxonomy")
    expect(link).to_be_visible()
    # seen without scrolling anything: what is drawn at the link's centre is the link itself
    # (clipped, it sat outside the nav's box and only a scroll inside the nav showed it)
    assert page.evaluate(
        """() => {
            const link = [...document.querySelectorAll('#settings-menu a')].find(a => a.textContent === 'Taxonomy');
            const r = link.getBoundingClientRect();
            return document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) === link;
        }"""
    )
    link.click()
    expect(page).to_have_url(f"{live_server.url}/taxonomy/")
