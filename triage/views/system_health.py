"""The managers' system health page (provider, Kimi balance, today's spend and cap, queues) and the
spend-cap banner every page shows them."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from triage.roles import manager_required, user_is_manager
from triage.services import costs, health


@require_safe
@manager_required
def health_page(request: HttpRequest) -> HttpResponse:
    context = {
        "health": health.health_get(),
        "heartbeat_every": settings.TRIAGE_HEARTBEAT_EVERY_S,
        "heartbeat_missed": settings.TRIAGE_HEARTBEAT_MISSED,
    }
    return render(request, "triage/system_health.html", context)


def spend_cap_banner(request: HttpRequest) -> dict[str, object]:
    """Context processor: `is_manager`, and the spend-cap banner text for managers while it applies.

    Skipped for htmx fragments (the queue rows poll every few seconds and show no banner).
    """
    if getattr(request, "htmx", False) or not user_is_manager(getattr(request, "user", None)):
        return {"is_manager": False}
    banner = ""
    if costs.spend_cap_reached():
        banner = (
            f"Daily Kimi spend cap of ${costs.spend_cap_usd()} reached: "
            "new tickets use the offline model until midnight UTC."
        )
    return {"is_manager": True, "spend_cap_banner": banner}
