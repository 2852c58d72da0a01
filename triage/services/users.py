"""User accounts for the administrators' users page: create, set the role, deactivate.

A role is stored the way `triage.roles` reads it: admin = `is_superuser` (+ `is_staff`, so the Django
admin lets them in), manager = the `managers` group, agent = the `agents` group or no group at all.
Accounts are never deleted: tickets, reviews and audit rows point at them.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.db import transaction

from triage.roles import AGENTS_GROUP, MANAGERS_GROUP, Role, user_role, user_role_remember


class UserEditError(ValueError):
    """A change the users page refuses, with a message for the page."""


def _apply_role(user: User, role: Role) -> None:
    managers, _ = Group.objects.get_or_create(name=MANAGERS_GROUP)
    agents, _ = Group.objects.get_or_create(name=AGENTS_GROUP)
    user.is_superuser = user.is_staff = role == Role.ADMIN
    user.save(update_fields=["is_superuser", "is_staff"])
    user.groups.remove(managers, agents)
    user.groups.add(managers if role in (Role.MANAGER, Role.ADMIN) else agents)
    user_role_remember(user, is_manager=None)


@transaction.atomic
def user_create(
    *, username: str, email: str, first_name: str, last_name: str, role: Role, password: str | None
) -> User:
    """`password` is validated by the form (AUTH_PASSWORD_VALIDATORS); None makes an account that
    cannot sign in until its person sets a password (an invitation, services/accounts.py)."""
    model = get_user_model()
    if model.objects.filter(username__iexact=username).exists():
        raise UserEditError(f"The username {username!r} is taken.")
    user = model.objects.create_user(
        username=username, email=email, password=password, first_name=first_name, last_name=last_name
    )
    _apply_role(user, role)
    return user


def _last_admin(user: User) -> bool:
    others = get_user_model().objects.filter(is_superuser=True, is_active=True).exclude(pk=user.pk)
    return user_role(user) == Role.ADMIN and not others.exists()


@transaction.atomic
def user_set_role(*, user_id: int, role: Role, by: User) -> User:
    user = get_user_model().objects.select_for_update().get(pk=user_id)
    if user.pk == by.pk and role != Role.ADMIN:
        raise UserEditError("You cannot take the administrator role from yourself.")
    if role != Role.ADMIN and _last_admin(user):
        raise UserEditError("The last active administrator keeps the role.")
    _apply_role(user, role)
    return user


@transaction.atomic
def user_set_active(*, user_id: int, active: bool, by: User) -> User:
    """A deactivated user cannot sign in and their open sessions stop working (Django checks
    `is_active` on every request through ModelBackend)."""
    user = get_user_model().objects.select_for_update().get(pk=user_id)
    if not active and user.pk == by.pk:
        raise UserEditError("You cannot deactivate your own account.")
    if not active and _last_admin(user):
        raise UserEditError("The last active administrator cannot be deactivated.")
    if user.is_active != active:
        user.is_active = active
        user.save(update_fields=["is_active"])
    return user
