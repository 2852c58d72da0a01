"""Likely duplicates of a ticket, loaded by the ticket page after it is shown (htmx, on load).

Finding them compares the ticket with up to a few hundred earlier ones; done inside the ticket
page's own request it would slow every "Accept & next" by that much."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from triage.models import Ticket
from triage.roles import agent_required
from triage.selectors.duplicates import ticket_similar_list
from triage.services.redaction import redacts_for_user
from triage.views import AuthedRequest


@require_GET
@agent_required
def ticket_similar(request: AuthedRequest, ticket_id: int) -> HttpResponse:
    ticket = get_object_or_404(Ticket, id=ticket_id)
    redact_view = redacts_for_user(request.user)
    similar = ticket_similar_list(ticket=ticket)
    if redact_view:
        # subjects are hidden from this user, so are the subject words a reason quotes (a name,
        # the parts of an address); an error code stays
        for item in similar:
            if item["reason"].startswith("subject words"):
                item["reason"] = "similar subject"
    context = {"ticket": ticket, "similar": similar, "redact_view": redact_view}
    return render(request, "triage/partials/_similar_tickets.html", context)
