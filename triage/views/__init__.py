"""Pages and endpoints: thin views that validate, call one service or selector, and render."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class AuthedRequest(HttpRequest):
    """What a page view receives: LoginRequiredMiddleware and the role decorators (triage/roles.py)
    let only signed-in users through, so `user` is never AnonymousUser; HtmxMiddleware adds `htmx`."""

    user: User
    htmx: HtmxDetails
