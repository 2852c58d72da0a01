"""Who may do what: three roles, each including the one below it.

| role    | who                                   | may                                              |
|---------|---------------------------------------|--------------------------------------------------|
| agent   | any active signed-in user             | create and review tickets, the email quarantine  |
| manager | member of the Django group `managers` | + the taxonomy editor, reports, health pages     |
| admin   | `is_superuser`                        | + the users page and the Django admin            |

Admin is Django's own `is_superuser` flag rather than a third group: it is what `createsuperuser`
makes, what the Django admin already honours in full, and it cannot be granted by editing a group in
the admin by mistake. `is_staff` alone means nothing here (the admin site checks `user_is_admin`).
The `agents` group exists for clarity in the admin; a signed-in user in no group is an agent.

Every view carries one of the decorators below. Anonymous users never reach them for pages:
LoginRequiredMiddleware sends them to the login page first; the webhooks are `login_not_required`
and authenticate with their own signatures.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db.models import TextChoices
from django.http import HttpRequest
from django.http.response import HttpResponseBase

MANAGERS_GROUP = "managers"
AGENTS_GROUP = "agents"


class Role(TextChoices):
    AGENT = "agent", "Agent"
    MANAGER = "manager", "Manager"
    ADMIN = "admin", "Administrator"


_RANK = {Role.AGENT: 1, Role.MANAGER: 2, Role.ADMIN: 3}

AnyUser = User | AnonymousUser | None
# where user_role keeps its one query's answer for the rest of the request
_MANAGER_CACHE = "_triage_is_manager"


def user_role(user: AnyUser) -> Role | None:
    """The user's role, or None for anonymous and deactivated users."""
    if user is None or not user.is_authenticated or not getattr(user, "is_active", False):
        return None
    if getattr(user, "is_superuser", False):
        return Role.ADMIN
    # groups are prefetched nowhere; one indexed query, cached on the user object for the request
    cached = getattr(user, _MANAGER_CACHE, None)
    if cached is None:
        cached = isinstance(user, User) and user.groups.filter(name=MANAGERS_GROUP).exists()
        user_role_remember(user, is_manager=cached)
    return Role.MANAGER if cached else Role.AGENT


def user_role_remember(user: AnyUser, *, is_manager: bool | None) -> None:
    """Tell user_role whether this user object is a manager (a page that listed the groups already
    knows), or forget it (None) after the groups changed."""
    if user is None:
        return
    if is_manager is None:
        user.__dict__.pop(_MANAGER_CACHE, None)
    else:
        user.__dict__[_MANAGER_CACHE] = is_manager


def user_has_role(user: AnyUser, role: Role) -> bool:
    if role == Role.AGENT:  # every active signed-in user is at least an agent: no group query
        return user is not None and user.is_authenticated and bool(getattr(user, "is_active", False))
    actual = user_role(user)
    return actual is not None and _RANK[actual] >= _RANK[role]


def user_is_agent(user: AnyUser) -> bool:
    return user_has_role(user, Role.AGENT)


def user_is_manager(user: AnyUser) -> bool:
    return user_has_role(user, Role.MANAGER)


def user_is_admin(user: AnyUser) -> bool:
    return user_has_role(user, Role.ADMIN)


def role_required(role: Role, *, message: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """403 (templates/403.html) for a signed-in user below `role`."""

    def decorator(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not user_has_role(request.user, role):
                raise PermissionDenied(message)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


agent_required = role_required(Role.AGENT, message="Sign in as a support agent.")
manager_required = role_required(Role.MANAGER, message="This page is for managers.")
admin_required = role_required(Role.ADMIN, message="This page is for administrators.")
