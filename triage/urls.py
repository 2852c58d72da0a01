from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path

from triage.api import api_urls
from triage.views.accounts import ThrottledLoginView, ThrottledPasswordResetView


@login_not_required
def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """Browsers ask for /favicon.ico whatever the page links: send them to the vendored icon.
    The URL is resolved per request, not at import, so a manifest storage that has not collected
    the icon yet fails this one request instead of every URL lookup."""
    return HttpResponsePermanentRedirect(static("triage/favicon.svg"))


urlpatterns = [
    path("admin/", admin.site.urls),
    path("favicon.ico", favicon, name="favicon"),
    # the throttled login and password reset shadow django.contrib.auth's own
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/password_reset/", ThrottledPasswordResetView.as_view(), name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", api_urls()),
    path("", include("triage.views.urls")),
]

# the database unavailable is a 503 "try again" page, not a 500 (triage/middleware.py)
handler500 = "triage.middleware.server_error"
