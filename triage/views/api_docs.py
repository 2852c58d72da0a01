"""The API's documentation page: Swagger UI from our own static files over /api/v1/schema."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe


@login_not_required  # public like the schema it draws: it holds no data, only the API's shape
@require_safe
def api_docs(request: HttpRequest) -> HttpResponse:
    return render(request, "triage/api_docs.html")
