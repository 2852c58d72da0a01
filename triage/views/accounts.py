"""The sign-in page with failure throttling: a locked username + address gets 429."""

from __future__ import annotations

from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.http import HttpResponse

from triage.forms import ThrottledAuthenticationForm


class ThrottledLoginView(LoginView):
    authentication_form = ThrottledAuthenticationForm

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        throttled = [e for e in form.non_field_errors().as_data() if e.code == "throttled"]
        if throttled:
            response.status_code = 429  # the page still says, in words, how long to wait
            params = throttled[0].params or {}
            response["Retry-After"] = str(params["minutes"] * 60)
        return response
