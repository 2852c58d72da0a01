"""Rough edges in a real browser: the header's user menu and Change password in our own pages, a
manager editing a taxonomy value's description and examples, the disabled pager's contrast."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from playwright.sync_api import Page, expect

from tests.browser.test_review_flow import log_in, shot
from tests.factories import PASSWORD, UserFactory, taxonomy_rows
from triage.models import TaxonomyChange, TaxonomyValue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_agent_changes_their_password_from_the_user_menu(page: Page, live_server):
    taxonomy_rows()
    UserFactory(username="ana", first_name="Ana", last_name="Lima")
    log_in(page, live_server.url, "ana")
    menu = page.locator("#user-menu")
    expect(menu.get_by_role("link", name="Change password")).to_be_hidden()
    menu.locator("summary").click()
    expect(menu.get_by_role("link", name="Your account")).to_be_visible()
    page.keyboard.press("Escape")  # closes it again
    expect(menu.get_by_role("link", name="Change password")).to_be_hidden()
    menu.locator("summary").click()
    shot(page, "user-menu")
    menu.get_by_role("link", name="Change password").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/password_change/")
    expect(page.locator("body")).not_to_contain_text("Django administration")
    page.get_by_label("Old password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill("harbour-kestrel-93")
    page.get_by_label("New password confirmation").fill("harbour-kestrel-93")
    shot(page, "change-password")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("heading", name="Password changed")).to_be_visible()
    page.get_by_role("link", name="Back to your account").click()
    page.get_by_label("Last name").fill("Sousa")
    page.locator("#profile").get_by_role("button", name="Save").click()
    expect(page.locator(".flash-success")).to_contain_text("Your name and email were saved.")
    expect(page.locator("#user-menu summary")).to_have_text("Ana Sousa")
    assert get_user_model().objects.get(username="ana").check_password("harbour-kestrel-93")


def test_a_manager_edits_a_values_description_and_examples(page: Page, live_server):
    taxonomy_rows()
    manager = UserFactory(username="mona")
    manager.groups.add(Group.objects.get_or_create(name="managers")[0])
    log_in(page, live_server.url, "mona")
    page.locator("#settings-menu summary").click()
    page.locator("#settings-menu").get_by_role("link", name="Taxonomy").click()
    row = TaxonomyValue.objects.get(field="category", value="billing")
    details = page.locator(f"#describe-{row.id}")
    details.locator("summary").click()
    details.get_by_label("Description of").fill("Invoices, refunds and card charges.")
    details.get_by_label("Example phrases, one per line").fill("charged twice\nrefund my order")
    details.get_by_role("button", name="Save description").click()
    expect(page.locator(".flash-success")).to_contain_text("Saved the description and examples")
    expect(page.locator("#taxonomy-changes")).to_contain_text("Described category")
    shot(page, "taxonomy-describe")
    row.refresh_from_db()
    assert row.examples == "charged twice\nrefund my order"
    assert TaxonomyChange.objects.get().action == "DESCRIBE"


CONTRAST = """(el) => {
  const rgb = (s) => s.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
  const lum = (c) => { const v = c.map((x) => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
  const style = getComputedStyle(el);
  const [a, b] = [lum(rgb(style.color)), lum(rgb(style.backgroundColor))].sort((x, y) => y - x);
  return {ratio: (a + 0.05) / (b + 0.05), opacity: style.opacity};
}"""


def test_the_disabled_previous_button_is_readable(page: Page, live_server):
    taxonomy_rows()
    UserFactory(username="ana")
    log_in(page, live_server.url, "ana")
    disabled = page.locator(".pager .btn.disabled").first
    if disabled.count() == 0:  # no pager without tickets: check the style on a stand-in
        page.evaluate(
            "() => { const s = document.createElement('span'); s.className = 'btn btn-sm disabled';"
            " s.textContent = '← Previous'; document.querySelector('main').append(s); }"
        )
        disabled = page.locator("main > .btn.disabled")
    measured = disabled.evaluate(CONTRAST)
    assert measured["opacity"] == "1" and measured["ratio"] >= 4.5, measured


INSIDE = """(svg) => {
  const box = svg.viewBox.baseVal;
  return [...svg.querySelectorAll('text')].filter((t) => {
    const b = t.getBBox();
    return b.x < box.x - 0.5 || b.x + b.width > box.x + box.width + 0.5;
  }).map((t) => t.textContent);
}"""


def test_reports_show_no_template_comment_and_no_clipped_chart_label(page: Page, live_server):
    from tests.report_fixture import build_week, manager_user

    build_week()
    manager_user(username="mona")
    log_in(page, live_server.url, "mona")
    page.goto(f"{live_server.url}/reports/?date_from=2026-02-06&date_to=2026-03-05")  # 28 days
    expect(page.locator("#exports")).not_to_contain_text("{#")
    expect(page.locator("#exports")).not_to_contain_text("plain POST")
    for chart in page.locator("svg.chart").all():
        assert chart.evaluate(INSIDE) == [], chart.get_attribute("aria-label")
    # the days with data are labelled and carry their value, not a sliver at the edge
    volume = page.locator("#chart-volume-category svg")
    expect(volume.locator("text.value").first).to_be_visible()
    shot(page, "reports-28-days")
