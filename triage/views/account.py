"""The signed-in user's account page: name and email, a link to change the password, personal API
tokens (create, shown once; revoke)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from triage.models import ApiToken
from triage.roles import agent_required, user_role
from triage.services.accounts import user_profile_update
from triage.services.api_tokens import api_token_create, api_token_revoke
from triage.services.users import UserEditError
from triage.views import AuthedRequest
from triage.views.params import id_param


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What it is for, e.g. 'helpdesk sync'.")
    scope = forms.ChoiceField(choices=ApiToken.Scope.choices, initial=ApiToken.Scope.READ)


class ProfileForm(forms.Form):
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    email = forms.EmailField(required=False, help_text="Where password-reset links go.")


@never_cache  # the page that shows a new token's secret must not be kept by any cache
@require_http_methods(["GET", "HEAD", "POST"])
@agent_required
def account_page(request: AuthedRequest) -> HttpResponse:
    created = None
    form = ApiTokenForm()
    user = request.user
    profile = ProfileForm(
        initial={"first_name": user.first_name, "last_name": user.last_name, "email": user.email}
    )
    status = 200
    if request.method == "POST":
        if request.POST.get("action") == "profile":
            profile = ProfileForm(request.POST)
            if profile.is_valid():
                try:
                    user_profile_update(user_id=user.pk, **profile.cleaned_data)
                except UserEditError as exc:
                    profile.add_error("email", str(exc))
                else:
                    messages.success(request, "Your name and email were saved.")
                    return redirect("triage:account")
            status = 400
        elif request.POST.get("action") == "revoke":
            token_id = id_param(request.POST.get("token"))
            if token_id is not None and api_token_revoke(user=request.user, token_id=token_id):
                messages.success(request, "Token revoked: it no longer works.")
            else:
                messages.error(request, "No such live token of yours.")
            return redirect("triage:account")
        else:
            form = ApiTokenForm(request.POST)
        if form.is_bound and form.is_valid():
            # rendered, not redirected: the secret exists only in this response
            created = api_token_create(
                user=request.user, name=form.cleaned_data["name"], scope=form.cleaned_data["scope"]
            )
            form = ApiTokenForm()
    context = {
        "form": form,
        "created": created,
        "tokens": ApiToken.objects.filter(user=request.user),
        "role": user_role(request.user),
        "profile": profile,
    }
    return render(request, "triage/account.html", context, status=status)
