"""The managers' system health page (provider, Kimi balance, today's spend and cap, queues) and the
spend-cap banner every page shows them."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from triage.services import costs, health

MANAGERS_GROUP = "managers"


def _is_manager(user: object) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if getattr(user, "is_superuser", False):
        return True
    return user.groups.filter(name=MANAGERS_GROUP).exists()  # type: ignore[attr-defined]


@require_safe
def health_page(request: HttpRequest) -> HttpResponse:
    if not _is_manager(request.user):
        raise PermissionDenied("The health page is for managers.")
    return render(request, "triage/system_health.html", {"health": health.health_get()})


def spend_cap_banner(request: HttpRequest) -> dict[str, object]:
    """Context processor: `is_manager`, and the spend-cap banner text for managers while it applies.

    Skipped for htmx fragments (the queue rows poll every few seconds and show no banner).
    """
    if getattr(request, "htmx", False) or not _is_manager(getattr(request, "user", None)):
        return {"is_manager": False}
    banner = ""
    if costs.spend_cap_reached():
        banner = (
            f"Daily Kimi spend cap of ${costs.spend_cap_usd()} reached: "
            "new tickets use the offline model until midnight UTC."
        )
    return {"is_manager": True, "spend_cap_banner": banner}
