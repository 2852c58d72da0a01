"""The administrators' users page: list accounts, invite a person by email (services/accounts.py),
resend an invitation, set the role, (de)activate.

A page of our own rather than the Django admin's user screens: the admin shows permissions,
groups and flags that mean nothing here, and lets anyone with access edit them, while this page
offers exactly the three roles of `triage.roles` and refuses the changes that lock everyone out.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from triage.forms import UserCreateForm, UserRoleForm
from triage.roles import MANAGERS_GROUP, Role, admin_required, user_role, user_role_remember
from triage.services.accounts import Invitation, user_invite, user_invite_send
from triage.services.users import UserEditError, user_set_active, user_set_role
from triage.views import AuthedRequest


def _page(request: AuthedRequest, *, create_form: UserCreateForm, status: int = 200) -> HttpResponse:
    users = list(get_user_model().objects.prefetch_related("groups").order_by("-is_active", "username"))
    for user in users:
        user_role_remember(user, is_manager=any(g.name == MANAGERS_GROUP for g in user.groups.all()))
    rows = [{"user": u, "role": user_role(u) if u.is_active else None} for u in users]
    context = {"rows": rows, "create_form": create_form, "roles": Role.choices}
    return render(request, "triage/users.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@admin_required
def user_list(request: AuthedRequest) -> HttpResponse:
    if request.method != "POST":
        return _page(request, create_form=UserCreateForm())
    form = UserCreateForm(request.POST)
    if not form.is_valid():
        return _page(request, create_form=form, status=400)
    data = form.cleaned_data
    try:
        invitation = user_invite(**{**data, "role": Role(data["role"])}, by=request.user)
    except UserEditError as exc:
        form.add_error("email" if "email" in str(exc) else "username", str(exc))
        return _page(request, create_form=form, status=400)
    _invitation_message(request, invitation, verb="Invited")
    return redirect("triage:users")


def _invitation_message(request: AuthedRequest, invitation: Invitation, *, verb: str) -> None:
    user = invitation.user
    if invitation.sent:
        messages.success(
            request, f"{verb} {user.get_username()}: a link to choose a password was emailed to {user.email}."
        )
    else:
        messages.error(
            request,
            f"{user.get_username()} exists, but the invitation was not sent ({invitation.error}). "
            "Use Resend invitation.",
        )


@require_POST
@admin_required
def user_edit(request: AuthedRequest, user_id: int) -> HttpResponse:
    user = get_object_or_404(get_user_model(), pk=user_id)
    action = request.POST.get("action", "")
    try:
        if action == "role":
            form = UserRoleForm(request.POST)
            if not form.is_valid():
                raise UserEditError("Choose agent, manager or administrator.")
            role = Role(form.cleaned_data["role"])
            user_set_role(user_id=user.pk, role=role, by=request.user)
            messages.success(request, f"{user.get_username()} is now {role.label.lower()}.")
        elif action == "invite":
            if user.has_usable_password() or not user.is_active:
                raise UserEditError(f"{user.get_username()} has a password already; they can reset it.")
            _invitation_message(request, user_invite_send(user=user, by=request.user), verb="Invited again")
        elif action in ("deactivate", "activate"):
            user_set_active(user_id=user.pk, active=action == "activate", by=request.user)
            messages.success(request, f"{user.get_username()} was {action}d.")
        else:
            raise UserEditError(f"Unknown action {action!r}.")
    except UserEditError as exc:
        messages.error(request, str(exc))
    return redirect("triage:users")
