"""Every URL pattern the resolver knows, requested as every role, against one expected-access table.

A URL added without a row in ACCESS fails `test_every_url_pattern_has_a_row`; a row whose URL went away
fails it too. Path parameters are filled with real objects (conftest.World), so a 404 in the table is a
real "not yours" or "no such page", never a missing fixture.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver, reverse

pytestmark = pytest.mark.django_db

LOGIN = "login"  # 302 to /accounts/login/?next=...
ADMIN_LOGIN = "admin-login"  # 302 to /admin/login/?next=...
REDIRECT = "redirect"  # 302 anywhere but a login page


@dataclass(frozen=True)
class Row:
    method: str
    anonymous: object
    agent: object
    manager: object
    admin: object

    def expected(self, role: str) -> object:
        return getattr(self, role)


def everyone(method: str, outcome: object) -> Row:
    return Row(method, outcome, outcome, outcome, outcome)


def agents(method: str, ok: object) -> Row:
    return Row(method, LOGIN, ok, ok, ok)


def managers(method: str, ok: object, *, admin: object = None) -> Row:
    return Row(method, LOGIN, 403, ok, ok if admin is None else admin)


def admins(method: str, ok: object) -> Row:
    return Row(method, LOGIN, 403, 403, ok)


def api_agents(method: str, ok: object) -> Row:
    return Row(method, 401, ok, ok, ok)


def api_managers(method: str, ok: object) -> Row:
    return Row(method, 401, 403, ok, ok)


def django_admin(ok: object, *, anonymous: object = ADMIN_LOGIN) -> Row:
    """The Django admin sends everyone but administrators to its own login (admin.py has_permission).
    Its per-model views are not `login_not_required`, so our middleware sends anonymous users to
    the site login first."""
    return Row("GET", anonymous, ADMIN_LOGIN, ADMIN_LOGIN, ok)


ACCESS: dict[str, Row] = {
    # --- our pages: agents --------------------------------------------------------------------
    "triage:review-queue": agents("GET", 200),
    "triage:review-queue-bulk": agents("POST", REDIRECT),
    "triage:ticket-create": agents("GET", 200),
    "triage:ticket-upload": agents("POST", 400),  # no file posted
    "triage:ticket-detail": agents("GET", 200),
    "triage:ticket-action": agents("POST", REDIRECT),  # no action chosen: back to the ticket
    "triage:ticket-presence": agents("POST", 200),  # "I am here"; answers with who else is
    "triage:ticket-similar": agents("GET", 200),  # likely duplicates, loaded by the ticket page
    "triage:attachment-file": agents("GET", 200),
    "triage:rendition-file": agents("GET", 200),
    "triage:email-quarantine": agents("GET", 200),
    "triage:email-retry": agents("POST", REDIRECT),
    "triage:email-raw-file": agents("GET", 200),
    "triage:ticket-reply": agents("POST", REDIRECT),  # nothing written: back to the ticket, told why
    "triage:ticket-note": agents("POST", REDIRECT),
    "triage:ticket-macro": agents("POST", 404),  # no macro chosen
    "triage:ticket-draft": agents("POST", 200),  # the composer's text area, filled or not
    "triage:outbound-email": agents("GET", 200),
    "triage:outbound-email-retry": agents("POST", REDIRECT),
    "triage:handoff-retry": agents("POST", REDIRECT),
    "triage:mentions": agents("GET", 200),
    "triage:saved-views": agents("POST", REDIRECT),  # no action chosen: back to the queue, told why
    "triage:saved-view-counts": agents("GET", 200),
    # --- managers -----------------------------------------------------------------------------
    "triage:model-health": managers("GET", 200),
    "triage:reports": managers("GET", 200),
    "triage:report-export": managers("POST", 200),
    # an export is its requester's (the manager's): anyone else, even an admin, gets 404
    "triage:report-export-status": managers("GET", 200, admin=404),
    "triage:report-export-download": managers("GET", 200, admin=404),
    "triage:health": managers("GET", 200),
    "triage:taxonomy": managers("GET", 200),
    "triage:taxonomy-value": managers("POST", REDIRECT),
    "triage:macros": managers("GET", 200),
    "triage:macro-edit": managers("GET", 200),
    "triage:ack-template": managers("GET", 200),
    "triage:integrations": managers("GET", 200),
    "triage:destination-edit": managers("GET", 200),
    "triage:routing-rule": managers("POST", REDIRECT),  # no action chosen: back to the page, told why
    "triage:sla": managers("GET", 200),
    # --- administrators -----------------------------------------------------------------------
    "triage:users": admins("GET", 200),
    "triage:user-edit": admins("POST", REDIRECT),
    "triage:privacy": admins("GET", 200),
    # --- webhooks: no session; each checks its own signature (an empty post fails it) ----------
    "triage:email-inbound-raw": everyone("POST", 403),
    "triage:email-inbound-mailgun": everyone("POST", 400),
    "triage:email-inbound-mailgun-mime": everyone("POST", 400),
    "triage:email-inbound-sendgrid": everyone("POST", 400),
    "triage:email-inbound-postmark": everyone("POST", 400),
    "triage:email-inbound-amazon_ses": everyone("POST", 401),  # anymail: SES without credentials
    "triage:email-inbound-sparkpost": everyone("POST", 400),
    "triage:email-inbound-mailjet": everyone("POST", 400),
    "triage:email-inbound-brevo": everyone("POST", 400),
    "triage:email-inbound-mailersend": everyone("POST", 400),
    "triage:email-inbound-mandrill": everyone("POST", 400),
    "triage:email-inbound-postal": everyone("POST", 400),
    # the services' status webhooks: a request no destination's secret signed is a 401
    "triage:hook-github": everyone("POST", 401),
    "triage:hook-jira": everyone("POST", 401),
    "triage:hook-zendesk": everyone("POST", 401),
    "triage:email-inbound-resend": everyone("POST", 400),
    "triage:account": agents("GET", 200),
    "triage:api-docs": everyone("GET", 200),  # the API's shape only, like the schema
    # --- the REST API: crawled with each role's token (anonymous: none), so its owner's role applies
    "api:openapi-json": everyone("GET", 200),
    "api:api-root": everyone("GET", 404),
    "api:ticket_list": api_agents("GET", 200),
    "api:ticket_get": api_agents("GET", 200),
    "api:ticket_review": api_agents("POST", 400),  # an empty form body, not JSON
    "api:ticket_assign": api_agents("POST", 400),
    "api:ticket_retriage": api_agents("POST", 400),
    "api:upload_create": api_agents("POST", 422),  # no file
    "api:attachment_file": api_agents("GET", 200),
    "api:rendition_file": api_agents("GET", 200),
    "api:taxonomy_get": api_agents("GET", 200),
    "api:export_create": api_managers("POST", 400),
    # an export is its requester's (the manager's): anyone else, even an admin, gets 404
    "api:export_get": Row("GET", 401, 403, 200, 404),
    "api:export_download": Row("GET", 401, 403, 200, 404),
    # --- accounts (django.contrib.auth) -------------------------------------------------------
    "login": everyone("GET", 200),
    "favicon": everyone("GET", 301),  # to the vendored icon under static/
    "logout": agents("POST", REDIRECT),
    "password_change": agents("GET", 200),
    "password_change_done": agents("GET", 200),
    "password_reset": everyone("GET", 200),
    "password_reset_done": everyone("GET", 200),
    "password_reset_confirm": everyone("GET", REDIRECT),  # a valid token: on to the set-password form
    "password_reset_complete": everyone("GET", 200),
    # --- the Django admin ---------------------------------------------------------------------
    "admin:index": django_admin(200),
    "admin:login": Row("GET", 200, 200, 200, REDIRECT),  # an administrator goes on to the index
    # anyone else signed in is sent to the admin index (then its login), an admin is logged out
    "admin:logout": Row("POST", ADMIN_LOGIN, REDIRECT, REDIRECT, REDIRECT),
    "admin:password_change": django_admin(200),
    "admin:password_change_done": django_admin(200),
    "admin:autocomplete": django_admin(403),  # needs its query parameters
    "admin:jsi18n": django_admin(200),
    "admin:view_on_site": django_admin(404),  # tickets have no public URL
    "admin:app_list": django_admin(200),
    "admin:catch-all": django_admin(404),
    "admin:auth_user_password_change": django_admin(200, anonymous=LOGIN),
}
# Every model the admin registers: its five views (generated from the registry, so a new ModelAdmin
# is covered; a custom admin URL still needs its own row above). Read-only models refuse "add".
_READ_ONLY_ADD = {
    "triage_ticket",
    "triage_triagerun",
    "triage_reviewdecision",
    "triage_inboundemail",
    "triage_webhookdelivery",
}
for _model in admin.site._registry:
    _prefix = f"{_model._meta.app_label}_{_model._meta.model_name}"
    ACCESS[f"admin:{_prefix}_changelist"] = django_admin(200, anonymous=LOGIN)
    ACCESS[f"admin:{_prefix}_add"] = django_admin(403 if _prefix in _READ_ONLY_ADD else 200, anonymous=LOGIN)
    ACCESS[f"admin:{_prefix}_change"] = django_admin(200, anonymous=LOGIN)
    ACCESS[f"admin:{_prefix}_delete"] = django_admin(200, anonymous=LOGIN)
    ACCESS[f"admin:{_prefix}_history"] = django_admin(200, anonymous=LOGIN)
    ACCESS[f"admin:{_prefix}_redirect"] = django_admin(REDIRECT, anonymous=LOGIN)


def url_patterns() -> list[tuple[str, URLPattern]]:
    """(key, pattern) for every pattern; unnamed admin patterns get a name from their route."""
    found: list[tuple[str, URLPattern]] = []

    def walk(patterns: list, namespace: str, route: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                ns = ":".join(filter(None, (namespace, pattern.namespace)))
                walk(pattern.url_patterns, ns, route + str(pattern.pattern))
                continue
            full = route + str(pattern.pattern)
            name = pattern.name
            if name is None and namespace == "admin":
                model = re.match(r"^admin/(\w+)/(\w+)/<path:object_id>/$", full)
                name = f"{model[1]}_{model[2]}_redirect" if model else "catch-all"
            key = f"{namespace}:{name}" if namespace else str(name)
            found.append((key, pattern))

    walk(get_resolver().url_patterns, "", "")
    return found


def test_every_url_pattern_has_a_row():
    keys = {key for key, _ in url_patterns()}
    assert not keys - ACCESS.keys(), f"URLs without a row in ACCESS: {sorted(keys - ACCESS.keys())}"
    assert not ACCESS.keys() - keys, f"rows for URLs that no longer exist: {sorted(ACCESS.keys() - keys)}"


def _url(key: str, pattern: URLPattern, kwargs: dict[str, object]) -> str:
    if key.endswith("_redirect") or key == "admin:catch-all":
        # unnamed: build from the route
        route = "/" + str(pattern.pattern)
        prefix = key.removeprefix("admin:").removesuffix("_redirect")
        if key == "admin:catch-all":
            return f"/admin/{kwargs['url']}"
        app, model = prefix.split("_", 1)
        return f"/admin/{app}/{model}/{kwargs['object_id']}/" if route else ""
    return reverse(key, kwargs=kwargs)


def _outcome(response) -> object:
    if response.status_code == 302:
        location = response["Location"]
        if location.startswith(reverse("login") + "?next="):
            return LOGIN
        if location.startswith(reverse("admin:login") + "?next="):
            return ADMIN_LOGIN
        return REDIRECT
    return response.status_code


def test_every_url_answers_every_role_as_the_table_says(world, role_clients, api_clients):
    """Crawl: the one test that proves no page is open to a role that should not see it.
    API routes are requested with each role's personal token instead of its session."""
    wrong = []
    seen = set()
    for key, pattern in url_patterns():
        if key in seen:  # the throttled login shadows django.contrib.auth's (same route, same name)
            continue
        seen.add(key)
        row = ACCESS[key]
        url = _url(key, pattern, world.kwargs.get(key, {}))
        for role in ("anonymous", "agent", "manager", "admin"):
            client = api_clients[role] if key.startswith("api:") else role_clients[role]
            response = client.post(url) if row.method == "POST" else client.get(url)
            actual = _outcome(response)
            if actual != row.expected(role):
                wrong.append(f"{row.method} {url} ({key}) as {role}: {actual}, expected {row.expected(role)}")
            if key in ("logout", "admin:logout") and role != "anonymous":
                client.force_login(world.users[role])  # signed out: sign back in for the next URLs
    assert not wrong, "\n".join(wrong)


def test_a_post_only_view_answers_405_to_a_get_from_a_role_that_may_use_it(world, role_clients):
    for key, row in ACCESS.items():
        if row.method != "POST" or key.startswith("admin:") or key == "logout":
            continue
        # the lowest role that may use it; for the webhooks (no role), anyone
        role = next(
            (r for r in ("agent", "manager", "admin") if row.expected(r) not in (403, LOGIN)), "agent"
        )
        url = reverse(key, kwargs=world.kwargs.get(key, {}))
        assert role_clients[role].get(url).status_code == 405, key
