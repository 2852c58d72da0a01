from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from triage.api import api_urls
from triage.views.accounts import ThrottledLoginView

urlpatterns = [
    path("admin/", admin.site.urls),
    # the login with failure throttling shadows django.contrib.auth's own
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", api_urls()),
    path("", include("triage.views.urls")),
]

# the database unavailable is a 503 "try again" page, not a 500 (triage/middleware.py)
handler500 = "triage.middleware.server_error"
