"""Presence on a ticket: each open ticket page reports itself and shows who else is there."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from triage.models import Ticket
from triage.roles import agent_required
from triage.services.presence import PRESENCE_POLL_S, presence_list, presence_touch
from triage.views import AuthedRequest


@require_POST
@agent_required
def ticket_presence(request: AuthedRequest, ticket_id: int) -> HttpResponse:
    """htmx poll from the ticket page: "I am here (editing or not)"; answers with the others."""
    ticket = get_object_or_404(Ticket.objects.only("id"), id=ticket_id)
    user = request.user
    presence_touch(
        ticket_id=ticket.id,
        user_id=user.id,
        name=user.get_full_name() or user.get_username(),
        editing=request.POST.get("editing") == "1",
    )
    others = presence_list(ticket_id=ticket.id, exclude_user_id=user.id)
    context = {"ticket": ticket, "others": others, "presence_poll_s": PRESENCE_POLL_S}
    return render(request, "triage/partials/_presence.html", context)
