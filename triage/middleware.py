"""Security headers Django does not set itself (issue 9).

Django 5.2 has no Content-Security-Policy of its own, and the policy here is one short string, so a
middleware of ours rather than django-csp: nothing to configure per view, and the media views'
stricter `sandbox` policy (views/media.py) is kept because we only fill in a missing header.

`script-src 'self'`: no inline script or `on*=` handler anywhere in the templates (app.js binds
everything), so an injected `<script>` or `onerror=` in a ticket can never run. Styles: sheets only
from us; inline `style=` attributes (confidence bars, chart legends) are allowed through
`style-src-attr`, which cannot run script; htmx's injected `<style>` is turned off in base.html.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase

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
