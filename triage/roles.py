"""Who may do what. Roles are Django groups created by `seed_demo` (and by hand in the admin)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

MANAGERS_GROUP = "managers"
AGENTS_GROUP = "agents"


def user_is_manager(user: AbstractBaseUser | AnonymousUser | None) -> bool:
    if user is None or not user.is_authenticated:
        return False
    if getattr(user, "is_superuser", False):
        return True
    # groups are usually prefetched nowhere; one indexed query, cached per user object
    cached = getattr(user, "_triage_is_manager", None)
    if cached is None:
        cached = user.groups.filter(name=MANAGERS_GROUP).exists()  # type: ignore[union-attr]
        user._triage_is_manager = cached  # type: ignore[union-attr]
    return cached


def manager_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """403 for signed-in users who are not managers. Anonymous users never get here:
    LoginRequiredMiddleware sends them to the login page first."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not user_is_manager(request.user):
            raise PermissionDenied("Reports are for managers.")
        return view(request, *args, **kwargs)

    return wrapped
