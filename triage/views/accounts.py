"""The sign-in and password-reset pages with throttling (services/login_throttle.py): past a limit
the page says how long to wait, with status 429 and Retry-After."""

from __future__ import annotations

from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.views import LoginView, PasswordResetView
from django.http import HttpResponse

from triage.forms import ThrottledAuthenticationForm, client_address, throttled_error
from triage.services.login_throttle import password_reset_attempt_begin


def _too_many(response: HttpResponse, form: object) -> HttpResponse:
    errors = form.errors.as_data().values()  # type: ignore[attr-defined]
    throttled = [e for field_errors in errors for e in field_errors if e.code == "throttled"]
    if throttled:
        response.status_code = 429  # the page still says, in words, how long to wait
        params = throttled[0].params or {}
        response["Retry-After"] = str(params["minutes"] * 60)
    return response


class ThrottledLoginView(LoginView):
    authentication_form = ThrottledAuthenticationForm

    def form_invalid(self, form: ThrottledAuthenticationForm) -> HttpResponse:  # type: ignore[override]
        return _too_many(super().form_invalid(form), form)


class ThrottledPasswordResetView(PasswordResetView):
    """Counted before any email goes out; the same answer whether the address has an account."""

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        wait = password_reset_attempt_begin(email=form.cleaned_data["email"], ip=client_address(self.request))
        if wait:
            form.add_error(
                "email", throttled_error(wait, what="password-reset requests")
            )  # the page shows it
            return _too_many(self.form_invalid(form), form)
        return super().form_valid(form)
