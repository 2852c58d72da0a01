from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from triage.forms import ThrottledAuthenticationForm

urlpatterns = [
    path("admin/", admin.site.urls),
    # the login with failure throttling (issue 9) shadows django.contrib.auth's own
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=ThrottledAuthenticationForm),
        name="login",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("triage.views.urls")),
]
