"""deploy/haproxy.cfg (docker-compose's `router`) read and applied in Python (no HAProxy here): each
request of the app goes to the pool made for it. The posts that bring work in (every inbound email
webhook, the API, the status hooks, the new-ticket form and its uploads) reach `intake`; every page
a person opens or acts on reaches `pages`. The paths come from the app's own URLs (reverse), so a
moved URL fails here instead of silently landing in the wrong pool."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from django.urls import resolve, reverse

from triage.views import inbound_email, integrations, tickets

CONFIG = Path(__file__).resolve().parent.parent.parent / "deploy" / "haproxy.cfg"


def _frontend() -> tuple[dict[str, list[list[str]]], list[tuple[str, list[str]]], str]:
    """The frontend's acls (name -> its lines' [criterion, *values], ORed as HAProxy does), its
    use_backend rules in order and its default backend."""
    acls: dict[str, list[list[str]]] = {}
    rules: list[tuple[str, list[str]]] = []
    default = ""
    section = ""
    for raw in CONFIG.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = shlex.split(line)
        if not raw[0].isspace():
            section = words[0]
            continue
        if section != "frontend":
            continue
        if words[0] == "acl":
            acls.setdefault(words[1], []).append(words[2:])
        elif words[0] == "use_backend":
            assert words[2] == "if", line
            rules.append((words[1], words[3:]))
        elif words[0] == "default_backend":
            default = words[1]
    return acls, rules, default


def _matches(criterion: list[str], method: str, path: str) -> bool:
    kind, *values = criterion
    if kind == "method":
        return method in values
    if kind == "path":
        return path in values
    if kind == "path_beg":
        return any(path.startswith(v) for v in values)
    if kind == "path_reg":
        return any(re.search(v, path) for v in values)
    raise AssertionError(f"the test does not know HAProxy's {kind}: teach it")


def route(method: str, path: str) -> str:
    """The backend HAProxy picks: the first use_backend whose conditions (ANDed, `!` negates) all
    hold, else the default."""
    acls, rules, default = _frontend()
    for backend, conditions in rules:
        if all(
            any(_matches(line, method, path) for line in acls[c.lstrip("!")]) != c.startswith("!")
            for c in conditions
        ):
            return backend
    return default


def _intake_posts() -> list[str]:
    paths = [reverse("triage:email-inbound-raw"), reverse("triage:ticket-create"),
             reverse("triage:ticket-upload"), reverse("api:ticket_list"), reverse("api:upload_create"),
             reverse("triage:hook-github"), reverse("triage:hook-jira"), reverse("triage:hook-zendesk")]  # fmt: skip
    providers = [str(p.pattern) for p in inbound_email.provider_urlpatterns()]
    assert providers, "no inbound email provider enabled: nothing to check"
    return paths + ["/" + p for p in providers]


def test_every_post_that_brings_work_in_goes_to_the_intake_pool():
    for path in _intake_posts():
        assert route("POST", path) == "intake", path


def test_the_intake_paths_are_the_apps_intake_views():
    """What the router sends to the intake pool is really the intake: the webhooks, the form's
    view, the upload view, the API and the hooks."""
    intake_views = {
        inbound_email.inbound_email_raw, tickets.ticket_create_page, tickets.ticket_upload,
        integrations.github_hook, integrations.jira_hook, integrations.zendesk_hook,
    }  # fmt: skip
    for path in _intake_posts():
        match = resolve(path)
        assert (
            match.func in intake_views
            or match.namespace == "api"
            or match.url_name.startswith("email-inbound-")
        ), (path, match.func)


@pytest.mark.parametrize(
    ("method", "name", "kwargs"),
    [
        ("GET", "triage:review-queue", {}),
        ("GET", "triage:ticket-create", {}),  # the form page itself is a page; only its post is intake
        ("GET", "triage:ticket-detail", {"ticket_id": 7}),
        ("POST", "triage:ticket-action", {"ticket_id": 7}),
        ("POST", "triage:review-queue-bulk", {}),
        ("GET", "triage:email-quarantine", {}),
        ("POST", "triage:email-retry", {"inbound_email_id": 3}),
        ("GET", "triage:email-raw-file", {"inbound_email_id": 3}),
        ("GET", "triage:reports", {}),
        ("POST", "login", {}),
    ],
)
def test_pages_and_a_persons_actions_go_to_the_page_pool(method, name, kwargs):
    assert route(method, reverse(name, kwargs=kwargs)) == "pages"


def test_both_backends_exist_and_send_the_client_address():
    text = CONFIG.read_text()
    for backend, server in (("pages", "web"), ("intake", "web-intake")):
        block = text.split(f"backend {backend}\n", 1)[1].split("\n\n", 1)[0]
        assert f"server {server} {server}:8000 send-proxy" in block, block


def test_the_servers_are_resolved_through_dockers_dns_while_running():
    """Without a resolvers section HAProxy resolves `web` once at start (a recreated container's new
    address is never seen) and refuses to start while a name does not resolve.
    test_router_live.py runs this against a DNS server that changes its answers."""
    text = CONFIG.read_text()
    resolvers = text.split("\nresolvers docker\n", 1)[1].split("\n\n", 1)[0]
    assert "nameserver docker 127.0.0.11:53" in resolvers
    servers = [line.split() for line in text.splitlines() if line.strip().startswith("server ")]
    assert len(servers) == 2
    for words in servers:
        assert words[words.index("resolvers") + 1] == "docker", words
        assert words[words.index("init-addr") + 1].split(",")[-1] == "none", words


def test_the_router_sets_x_forwarded_proto_itself():
    """Django's SECURE_PROXY_SSL_HEADER trusts the header's first value: the frontend must replace a
    client's (set-header, from the connection), never pass or append to it."""
    frontend = CONFIG.read_text().split("\nfrontend triage\n", 1)[1].split("\n\n", 1)[0]
    rules = [line.split() for line in frontend.splitlines() if "X-Forwarded-Proto" in line]
    assert {tuple(r[:4]) for r in rules} == {
        ("http-request", "set-header", "X-Forwarded-Proto", "https"),
        ("http-request", "set-header", "X-Forwarded-Proto", "http"),
    }
    assert {" ".join(r[4:]) for r in rules} == {"if { ssl_fc }", "if !{ ssl_fc }"}
