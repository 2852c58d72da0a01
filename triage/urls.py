from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from triage.api import api_urls
from triage.views.accounts import ThrottledLoginView, ThrottledPasswordResetView

urlpatterns = [
    path("admin/", admin.site.urls),
    # browsers ask for /favicon.ico whatever the page links: send them to the vendored icon
    path(
        "favicon.ico",
        login_not_required(RedirectView.as_view(url=static("triage/favicon.svg"), permanent=True)),
    ),
    # the throttled login and password reset shadow django.contrib.auth's own
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/password_reset/", ThrottledPasswordResetView.as_view(), name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", api_urls()),
    path("", include("triage.views.urls")),
]

# the database unavailable is a 503 "try again" page, not a 500 (triage/middleware.py)
handler500 = "triage.middleware.server_error"
