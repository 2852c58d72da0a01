"""Bearer authentication with personal API tokens; a token acts with its owner's role
(triage/roles.py), limited by its scope (read: safe methods only) and a per-token rate."""

from __future__ import annotations

import math
import time
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import caches
from django.http import HttpRequest
from ninja.security import HttpBearer

from triage.api.problems import Problem
from triage.models import ApiToken
from triage.roles import Role, user_has_role
from triage.services.api_tokens import api_token_authenticate

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class ApiRequest(HttpRequest):
    """What an API operation receives: TokenAuth let it through, so `user` is the token's owner."""

    user: User
    auth: ApiToken


def _rate_check(token: ApiToken) -> None:
    """A fixed one-minute window per token, counted in the shared throttle cache (Redis when
    configured, so every web process sees one count). Over the limit: 429 with Retry-After."""
    limit = settings.TRIAGE_API_RATE_PER_MINUTE
    if limit <= 0:
        return
    now = time.time()
    window = int(now // 60)
    key = f"api-rate:{token.prefix}:{window}"
    cache = caches["login-throttle"]
    cache.add(key, 0, timeout=120)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=120)
        count = 1
    if count > limit:
        retry_after = max(1, math.ceil((window + 1) * 60 - now))
        raise Problem(
            status=429,
            slug="rate-limited",
            title="Too many requests",
            detail=f"This token may make {limit} requests a minute; try again in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )


class TokenAuth(HttpBearer):
    """The token, its scope, its rate and its owner's role are all checked here, before the body
    is parsed: a caller without the right learns nothing from validation errors."""

    openapi_description = "A personal API token from your account page: `Authorization: Bearer tri_…`"

    def __init__(self, role: Role = Role.AGENT) -> None:
        super().__init__()
        self.role = role

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        found = api_token_authenticate(plaintext=token)
        if found is None:
            return None
        if request.method not in SAFE_METHODS and found.scope != ApiToken.Scope.WRITE:
            raise Problem(
                status=403,
                slug="scope",
                title="Token scope too narrow",
                detail="This token is read-only; create a token with the write scope to change tickets.",
            )
        _rate_check(found)
        request.user = found.user  # the owner's role applies (triage.roles)
        role_check(request, self.role)
        return found


def role_check(request: HttpRequest, role: Role) -> None:
    if not user_has_role(request.user, role):
        raise Problem(
            status=403,
            slug="forbidden",
            title="Forbidden",
            detail=f"This needs the {role.label.lower()} role; the token's owner does not have it.",
        )


def token_of(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]
