"""axe-core finds no accessibility violation on any main page, at desktop and phone widths.

axe-core is vendored under static/triage/vendor/axe-core/ and injected here only: no app page loads it.
Each page is opened by the least-privileged role that may see it (agent, manager, admin)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import Page, expect

from tests.browser.test_review_flow import ARTIFACTS, log_in, shot
from tests.factories import UserFactory, taxonomy_rows, triaged_ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[2] / "static" / "triage" / "vendor" / "axe-core" / "axe.min.js"
WIDTHS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}

# (name, role, path); "{ticket}" is the id of a triaged ticket.
PAGES = [
    ("login", None, "/accounts/login/"),
    ("queue", "agent", "/"),
    ("queue-filtered", "agent", "/?q=invoice&priority=urgent&low=on"),
    ("ticket", "agent", "/tickets/{ticket}/"),
    ("new-ticket", "agent", "/tickets/new/"),
    ("mentions", "agent", "/mentions/"),
    ("macros", "manager", "/macros/"),
    ("account", "agent", "/account/"),
    ("reports", "manager", "/reports/"),
    ("taxonomy", "manager", "/taxonomy/"),
    ("health", "manager", "/health/"),
    ("model-health", "manager", "/health/model/"),
    ("sla", "manager", "/sla/"),
    ("integrations", "manager", "/integrations/"),
    ("email-quarantine", "manager", "/intake/email/quarantine/"),
    ("privacy", "admin", "/privacy/"),
    ("users", "admin", "/users/"),
]

# Violations not fixed yet: (page, width, rule) -> reason. Each one is an xfail(strict=True).
KNOWN: dict[tuple[str, str, str], str] = {}


def _user(role: str):
    if role == "admin":
        return UserFactory(username="ada", is_superuser=True, is_staff=True)
    user = UserFactory(username=role)
    user.groups.add(Group.objects.get_or_create(name=f"{role}s")[0])
    return user


def axe_violations(page: Page) -> list[dict]:
    # Evaluated through the DevTools protocol: our Content-Security-Policy (rightly) refuses the inline
    # <script> that page.add_script_tag would insert.
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    return page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary})),
            }));
        }"""
    )


def _report(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:8]:
            lines.append(f"    {node['target']}: {' '.join(node['summary'].split())[:300]}")
    return "\n".join(lines)


def _cases():
    for name, role, path in PAGES:
        for width in WIDTHS:
            marks = [
                pytest.mark.xfail(strict=True, reason=f"{rule}: {reason}")
                for (p, w, rule), reason in KNOWN.items()
                if p == name and w == width
            ]
            yield pytest.param(name, role, path, width, id=f"{name}-{width}", marks=marks)


@pytest.mark.parametrize(("name", "role", "path", "width"), list(_cases()))
def test_axe_finds_no_violation(live_server, page: Page, name: str, role: str | None, path: str, width: str):
    taxonomy_rows()
    ticket = triaged_ticket(subject="Charged twice for my March invoice")
    page.set_viewport_size(WIDTHS[width])
    if role:
        _user(role)
        log_in(page, live_server.url, role if role != "admin" else "ada")
    response = page.goto(live_server.url + path.format(ticket=ticket.id))
    assert response is not None and response.status < 400, f"{name}: {response and response.status}"
    page.wait_for_load_state("networkidle")
    shot(page, f"page-{name}-{width}")  # every page at both widths, in test-artifacts/
    assert (ARTIFACTS / f"page-{name}-{width}.png").stat().st_size > 0
    violations = axe_violations(page)
    assert not violations, f"{name} at {width}:\n{_report(violations)}"


def test_a_filter_chip_removes_its_filter_only(live_server, page: Page):
    taxonomy_rows()
    triaged_ticket(subject="Charged twice for my March invoice")
    _user("agent")
    log_in(page, live_server.url, "agent")
    page.goto(live_server.url + "/?q=invoice&priority=urgent")
    chips = page.locator("#filter-chips .chip")
    expect(chips).to_have_count(2)
    expect(page.locator("#id_priority")).to_be_hidden()  # folded: the chips show what is set
    bar = page.locator("form.filters").bounding_box()
    assert bar and bar["height"] < 80, bar
    page.get_by_text("Edit filters").click()
    expect(page.locator("#id_priority")).to_have_value("urgent")
    page.get_by_role("link", name="Remove filter Priority: Urgent").click()
    expect(page).to_have_url(f"{live_server.url}/?q=invoice")
    expect(chips).to_have_count(1)
    expect(page.get_by_role("searchbox", name="Search")).to_have_value("invoice")
    expect(page.get_by_role("link", name="Charged twice for my March invoice")).to_be_visible()
