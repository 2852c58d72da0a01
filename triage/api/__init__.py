"""The REST API, `/api/v1/`: django-ninja, bearer personal tokens, RFC 9457 errors.

django-ninja over Django REST framework: its schemas are pydantic models, like the model output
the app already validates (adapters/llm/schema.py), so one kind of schema serves both; it writes an
OpenAPI 3.1 document natively (no extra generator to keep in step); and it is small and typed.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from triage.api import reports, tickets
from triage.api.auth import TokenAuth
from triage.api.problems import Problem, problem_response

logger = logging.getLogger(__name__)

api = NinjaAPI(
    title="Triage API",
    version="1",
    description="Tickets in, triaged tickets out. Errors are RFC 9457 problem details.",
    auth=TokenAuth(),
    urls_namespace="api",
    openapi_url="/schema",
    docs_url=None,  # our own page with the vendored Swagger UI (views/api_docs.py): nothing from a CDN
)
api.add_router("", tickets.router)
api.add_router("", reports.router)
api.add_router("", reports.exports)


@api.exception_handler(Problem)
def _problem(request: HttpRequest, exc: Problem) -> HttpResponse:
    return problem_response(
        status=exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        instance=request.path,
        headers=exc.headers,
        **exc.extra,
    )


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem_response(
        status=401,
        slug="unauthenticated",
        title="Unauthenticated",
        detail="Send a live personal API token: `Authorization: Bearer tri_…` (create one on your account page).",
        instance=request.path,
        headers={"WWW-Authenticate": 'Bearer realm="triage"'},
    )


@api.exception_handler(NinjaValidationError)
def _invalid(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors
    ]
    return problem_response(
        status=422,
        slug="invalid",
        title="Invalid input",
        detail="The request is not valid: "
        + "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors[:5]),
        instance=request.path,
        errors=errors,
    )


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return problem_response(
        status=exc.status_code,
        slug="http-error",
        title=HTTPStatus(exc.status_code).phrase,
        detail=str(exc),
        instance=request.path,
    )


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem_response(status=404, slug="not-found", title="Not found", detail=str(exc) or "Not found.")


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return problem_response(
        status=413,
        slug="too-large",
        title="Request too large",
        detail="The body is larger than this server accepts; send attachments through POST /uploads, one at a time.",
        instance=request.path,
    )


@api.exception_handler(TooManyFieldsSent)
def _too_many_fields(request: HttpRequest, exc: TooManyFieldsSent) -> HttpResponse:
    return problem_response(
        status=400, slug="too-many-fields", title="Too many fields", detail=str(exc), instance=request.path
    )


def api_urls():
    """The API's URL patterns. They authenticate with tokens, not the session: exempt from
    LoginRequiredMiddleware (ninja already makes them CSRF-exempt, there being no cookie to ride)."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        # what django's login_not_required sets; ninja's views are plain functions
        pattern.callback.login_required = False  # type: ignore[union-attr]
    return patterns, app_name, namespace
