"""Errors as RFC 9457 problem details (`application/problem+json`): a `type`, a short `title`, the
HTTP `status` and a `detail` a person can act on; extra members where they help (`errors` for bad
input, `changes` for a stale version)."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse

PROBLEM_TYPE_BASE = "https://triage.invalid/problems/"  # a stable identifier, not fetched


class Problem(Exception):
    """Raised anywhere under the API; answered as problem+json by the exception handler."""

    def __init__(
        self,
        *,
        status: int,
        slug: str,
        title: str,
        detail: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def problem_response(
    *, status: int, slug: str, title: str, detail: str, instance: str = "", headers=None, **extra: Any
) -> HttpResponse:
    body = {
        "type": PROBLEM_TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        **({"instance": instance} if instance else {}),
        **extra,
    }
    response = HttpResponse(
        json.dumps(body, default=str), status=status, content_type="application/problem+json"
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def bad_request(detail: str, **extra: Any) -> Problem:
    return Problem(status=400, slug="bad-request", title="Bad request", detail=detail, **extra)


def invalid(detail: str, errors: list[dict[str, Any]] | None = None) -> Problem:
    return Problem(status=422, slug="invalid", title="Invalid input", detail=detail, errors=errors or [])


def not_found(detail: str) -> Problem:
    return Problem(status=404, slug="not-found", title="Not found", detail=detail)


def conflict(detail: str, **extra: Any) -> Problem:
    return Problem(status=409, slug="conflict", title="Conflict", detail=detail, **extra)


def forbidden(detail: str) -> Problem:
    return Problem(status=403, slug="forbidden", title="Forbidden", detail=detail)
