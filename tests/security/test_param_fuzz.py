"""Every URL the resolver knows, with hostile values in every query and form parameter, as every
role, by GET and POST: nothing answers 5xx.

The parameter names of a view come from its source (request.GET/POST keys, the fields of the forms
it names) plus a few generic ones, so a new parameter is fuzzed without a new line here. Each URL
gets: every parameter set to each hostile value at once, as every role and both methods; each
parameter alone with each hostile number (so a parameter that picks a branch, like the queue's
`row`, is reached with its own value), as the lowest role that may use the page and as an htmx
request; and every parameter sent twice.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import re
import sys
import time
import traceback

import pytest
from django import forms
from django.contrib import admin
from django.db import transaction
from django.urls import URLPattern

from tests.security.test_crawl import ACCESS, ADMIN_LOGIN, LOGIN, url_patterns
from tests.security.test_crawl import _url as crawl_url

pytestmark = pytest.mark.django_db

NUMBERS = [
    "²",  # str.isdigit() is true, int() refuses it
    "٣",  # an Arabic-Indic digit: int() reads it as 3
    "9" * 5000,  # past Python's int() digit limit
    str(2**64),  # past BIGINT
    "-1",
    "",
    "1\x00",
    "x" * 10_240,
]
# each parameter alone: the values that break number parsing and the database
SINGLES = [v for v in NUMBERS if v not in ("-1", "")]
EVERYTHING = [*NUMBERS, "1e999", "NaN", "9999-12-31", "0001-01-01", "../../etc/passwd", "' OR 1=1 --"]
ADMIN_KEYS = ["all", "_changelist_filters", "action", "select_across", "index", "post", "_save", "id__exact"]
GENERIC = ["id", "page", "q", "o", "p", "next", "sort", "format", "status", "_to_field", "_popup", "e"]

_GET_KEYS = re.compile(
    r"""request\.(?:GET|POST|FILES)(?:\.get|\.getlist|\.pop)?\(\s*["'](\w+)["']"""
    r"""|request\.(?:GET|POST)\[\s*["'](\w+)["']\s*\]"""
    r"""|["'](\w+)["']\s+(?:not\s+)?in\s+request\.(?:GET|POST)"""
)
_FORM_NAMES = re.compile(r"\b(\w*Form)\b")
# Views that would end the session or delete the crawl's objects if POSTed
_NO_POST = ("logout", "admin:logout")


def _view_module(callback: object) -> object:
    target = getattr(callback, "view_class", None) or inspect.unwrap(callback)
    if inspect.ismethod(target):
        target = type(target.__self__)
    return sys.modules[target.__module__]


@functools.cache
def _module_params(module_name: str) -> frozenset[str]:
    module = importlib.import_module(module_name)
    source = inspect.getsource(module)
    names = {name for match in _GET_KEYS.finditer(source) for name in match.groups() if name}
    for form_name in set(_FORM_NAMES.findall(source)):
        form = getattr(module, form_name, None)
        if isinstance(form, type) and issubclass(form, forms.BaseForm):
            names |= set(form.base_fields)
    return frozenset(names)


def _params(key: str, callback: object) -> list[str]:
    if key.startswith("admin:"):
        # the admin's own views read dozens of keys; sample the ones that reach a query: the
        # model's fields and filters, and the changelist's and forms' own keys
        names = {*GENERIC, *ADMIN_KEYS}
        for model, model_admin in admin.site._registry.items():
            if key.startswith(f"admin:{model._meta.app_label}_{model._meta.model_name}_"):
                names |= {f.name for f in model._meta.get_fields() if f.concrete}
                names |= {f"{f}__exact" for f in model_admin.list_filter if isinstance(f, str)}
        return sorted(names)
    return sorted(set(GENERIC) | _module_params(_view_module(callback).__name__))


def _lowest_role(key: str) -> str:
    row = ACCESS[key]
    return next(
        (
            r
            for r in ("anonymous", "agent", "manager", "admin")
            if row.expected(r) not in (403, LOGIN, ADMIN_LOGIN)
        ),
        "admin",
    )


def _plan(key: str, params: list[str]) -> list[tuple[str, str, dict, dict]]:
    """(role, method, data, headers) for one URL."""
    row = ACCESS[key]
    methods = ["GET"] if key in _NO_POST or key.endswith("_delete") else ["GET", "POST"]
    plan = []
    lowest = _lowest_role(key)
    for role in ("anonymous", "agent", "manager", "admin"):
        allowed = row.expected(role) not in (403, LOGIN, ADMIN_LOGIN)
        for method in methods:
            # a refused role only needs to be refused: every parameter at once is enough
            if not allowed:
                values = NUMBERS[:3]
            elif role == lowest and not key.startswith("admin:"):
                values = EVERYTHING
            else:
                values = SINGLES
            plan += [(role, method, dict.fromkeys(params, value), {}) for value in values]
    role = _lowest_role(key)
    method = row.method if row.method in methods else "GET"
    htmx = {"HTTP_HX_REQUEST": "true"}
    singles = SINGLES
    if key.startswith("admin:"):
        # the admin's many views share one code path: each parameter alone on the list and the form
        singles = SINGLES[:3] + ["1\x00"] if key.endswith(("_changelist", "_change")) else []
    for name in params:
        plan += [(role, method, {name: value}, htmx) for value in singles]
    plan.append((role, method, {name: ["1", "²"] for name in params}, {}))
    return plan


def _group(key: str, callback: object) -> str:
    """The test a URL is fuzzed in: one per view module, one for the API, one per admin model (and
    one for the admin's own pages), so pytest-xdist spreads the walk over its workers."""
    if key.startswith("admin:"):
        name = key.removeprefix("admin:")
        models = (f"{m._meta.app_label}_{m._meta.model_name}" for m in admin.site._registry)
        return "admin:" + next((m for m in models if name.startswith(f"{m}_")), "site")
    if key.startswith("api:"):
        return "api"
    return _view_module(callback).__name__.removeprefix("triage.views.")


def _groups() -> dict[str, list[tuple[str, URLPattern]]]:
    """group -> its (key, pattern)s, every URL once, the groups with the most requests first (the
    longest tests start first, so the workers finish together)."""
    groups: dict[str, list[tuple[str, URLPattern]]] = {}
    seen: set[str] = set()
    for key, pattern in url_patterns():
        if key in seen or key == "admin:catch-all":
            continue
        seen.add(key)
        groups.setdefault(_group(key, pattern.callback), []).append((key, pattern))
    return dict(sorted(groups.items(), key=lambda kv: -_requests(kv[1])))


def _requests(urls: list[tuple[str, URLPattern]]) -> int:
    return sum(len(_plan(key, _params(key, pattern.callback))) for key, pattern in urls)


GROUPS = _groups()


def test_the_groups_cover_every_url_once_and_the_walk_is_large():
    keys = [key for urls in GROUPS.values() for key, _ in urls]
    assert len(keys) == len(set(keys))
    assert set(keys) == {key for key, _ in url_patterns()} - {"admin:catch-all"}
    assert sum(_requests(urls) for urls in GROUPS.values()) > 10_000  # the whole walk, all groups


@pytest.mark.parametrize("group", list(GROUPS))
def test_no_hostile_parameter_gives_a_server_error(group, world, role_clients):
    failures: list[str] = []
    requests = 0
    timings: dict[str, tuple[float, int]] = {}
    for key, pattern in GROUPS[group]:
        url = crawl_url(key, pattern, world.kwargs.get(key, {}))
        params = _params(key, pattern.callback)
        started = time.monotonic()
        for role, method, data, headers in _plan(key, params):
            client = role_clients[role]
            requests += 1
            try:
                with transaction.atomic():  # a database error is reported, and the walk goes on
                    response = (
                        client.get(url, data, **headers)
                        if method == "GET"
                        else client.post(url, data, **headers)
                    )
                status = response.status_code
            except Exception as exc:  # the test client re-raises the view's exception
                status = (
                    f"{type(exc).__name__}: {str(exc)[:120]} at {traceback.extract_tb(exc.__traceback__)[-1]}"
                )
            if not isinstance(status, int) or status >= 500:
                shown = {
                    k: (v[:12] + "…" if isinstance(v, str) and len(v) > 12 else v) for k, v in data.items()
                }
                failures.append(
                    f"{method} {url} as {role} with {shown if len(shown) < 4 else '(all params) ' + repr(next(iter(shown.values()), ''))}: {status}"
                )
            if key in ("logout", "admin:logout") and role != "anonymous":
                client.force_login(world.users[role])
        timings[key] = (time.monotonic() - started, len(params))
    if os.environ.get("FUZZ_PROFILE"):
        for key, (spent, n) in sorted(timings.items(), key=lambda kv: -kv[1][0])[:25]:
            print(f"{spent:6.2f}s {n:3d} params {key}")
        print(requests, "requests")
    assert requests == _requests(GROUPS[group]) > 0  # the walk really ran
    assert not failures, f"{len(failures)} server errors:\n" + "\n".join(sorted(set(failures))[:60])
