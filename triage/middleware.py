"""Our middleware: the security headers Django does not set itself, and a clear 503 page when the
database is briefly unavailable.

Security headers. Django 5.2 has no Content-Security-Policy of its own, and the policy here is one short string, so a
middleware of ours rather than django-csp: nothing to configure per view, and the media views'
stricter `sandbox` policy (views/media.py) is kept because we only fill in a missing header.

`script-src 'self'`: no inline script or `on*=` handler anywhere in the templates (app.js binds
everything), so an injected `<script>` or `onerror=` in a ticket can never run. Styles: sheets only
from us; inline `style=` attributes (confidence bars, chart legends) are allowed through
`style-src-attr`, which cannot run script; htmx's injected `<style>` is turned off in base.html.

The database briefly unavailable: a 503 page with Retry-After instead of a server error. Two entry
points, because an OperationalError can come from two places:
- the view (a query in a view or a service): `DatabaseUnavailableMiddleware.process_exception`;
- a middleware before the view (the session, `request.user` for LoginRequiredMiddleware): Django
  turns those into the 500 handler, so `server_error` (ROOT_URLCONF's handler500) checks the
  exception being handled first.
The page is rendered without the request: context processors would query the database again.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack

from django.conf import settings
from django.db import InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseServerError
from django.http.response import HttpResponseBase
from django.template.loader import render_to_string
from django.views import defaults

logger = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)
RETRY_AFTER_S = 30

DEFAULT_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
DEFAULT_PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.csp = getattr(settings, "TRIAGE_CSP", DEFAULT_CSP)
        self.permissions = getattr(settings, "TRIAGE_PERMISSIONS_POLICY", DEFAULT_PERMISSIONS_POLICY)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if self.csp:
            response.headers.setdefault("Content-Security-Policy", self.csp)
        if self.permissions:
            response.headers.setdefault("Permissions-Policy", self.permissions)
        return response


class RequestParametersMiddleware:
    """A query or form value the database cannot take is a 400, before any view sees it.

    PostgreSQL refuses NUL in text, so a NUL that reaches a query is a DataError (a 500) wherever a
    view or the admin filters on the raw value. Our forms refuse NUL themselves (Django's CharField
    does); this covers the values read without a form, the admin's search and filters included.
    Django's admin also looks an empty `_to_field` up as a field name (FieldDoesNotExist, a 500).
    Form bodies are only read where the CSRF check has already read them: csrf-exempt views (the
    webhooks) read their own bodies, which may be streamed.
    """

    def __init__(self, get_response):  # noqa: ANN001 - Django's middleware factory protocol
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:  # noqa: ANN001
        sources = [request.GET]
        if request.method == "POST" and not getattr(view_func, "csrf_exempt", False):
            sources.append(request.POST)
        for values in sources:
            for key, items in values.lists():
                if "\x00" in key or any("\x00" in item for item in items):
                    return self._refuse(request, "a parameter contains a NUL character")
                if key == "_to_field" and not any(items):
                    return self._refuse(request, "an empty _to_field")
        return None

    @staticmethod
    def _refuse(request: HttpRequest, reason: str) -> HttpResponse:
        logger.warning("bad request parameters on %s: %s", request.path, reason)
        if request.path.startswith("/api/"):
            # API clients read every error as problem+json, this one too
            from triage.api.problems import problem_response

            return problem_response(
                status=400, slug="bad-request", title="Bad request", detail=f"Bad request: {reason}."
            )
        return HttpResponseBadRequest(f"Bad request: {reason}.\n", content_type="text/plain")


def database_unavailable_response(exc: BaseException) -> HttpResponse:
    logger.error("database unavailable: %s: %s", type(exc).__name__, str(exc).strip()[:300])
    response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_S)
    return response


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):  # noqa: ANN001 - Django's middleware factory protocol
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DATABASE_ERRORS):
            return database_unavailable_response(exception)
        return None


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a database outage anywhere in the request is a 503, the rest Django's 500 page."""
    exc = sys.exc_info()[1]
    if isinstance(exc, DATABASE_ERRORS):
        return database_unavailable_response(exc)
    try:
        return defaults.server_error(request)
    except Exception:  # the 500 page itself failed: a plain answer rather than nothing
        return HttpResponseServerError("Server error")


class _QueryClock:
    """An execute wrapper (Django's `connection.execute_wrapper`) adding up the time spent in SQL."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.queries = 0

    def __call__(self, execute, sql, params, many, context):  # noqa: ANN001, ANN204 - Django's wrapper protocol
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.queries += 1


class ServerTimingMiddleware:
    """A `Server-Timing` header on every response when TRIAGE_SERVER_TIMING is on (off by default):

        Server-Timing: app;dur=41.2, db;dur=12.5;desc="9 queries", cpu;dur=27.0

    `app` is the wall time inside Django (this middleware is the outermost), `db` the part spent
    waiting on SQL (the round trips, lock waits included), `cpu` this thread's CPU time. Under load
    the three tell apart a slow query, a lock wait and a worker that waits for a core: app - cpu - db
    is time spent runnable but not running (or on Redis, files). bench/load.py reads it; browsers
    show it in the network panel. A streamed response's body is not included.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.enabled = bool(getattr(settings, "TRIAGE_SERVER_TIMING", False))

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not self.enabled:
            return self.get_response(request)
        clock = _QueryClock()
        started, cpu_started = time.perf_counter(), time.thread_time()
        with ExitStack() as stack:
            for connection in connections.all(initialized_only=False):
                stack.enter_context(connection.execute_wrapper(clock))
            response = self.get_response(request)
        app_ms = (time.perf_counter() - started) * 1000
        cpu_ms = (time.thread_time() - cpu_started) * 1000
        timing = f'app;dur={app_ms:.1f}, db;dur={clock.seconds * 1000:.1f};desc="{clock.queries} queries", cpu;dur={cpu_ms:.1f}'
        existing = response.headers.get("Server-Timing")
        response.headers["Server-Timing"] = f"{timing}, {existing}" if existing else timing
        return response
