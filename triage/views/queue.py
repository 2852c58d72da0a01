"""The review queue: one page, which also serves a single row to the rows that poll."""

from __future__ import annotations

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_safe

from triage import selectors
from triage.models import Ticket

# ?status= keys; "processing" covers both worker stages, since to a reviewer they mean "not yet".
STATUS_FILTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "processing": ("Processing", (Ticket.Status.PROCESSING, Ticket.Status.TRIAGING)),
    "needs_review": ("Needs review", (Ticket.Status.NEEDS_REVIEW,)),
    "manual_triage": ("Manual triage", (Ticket.Status.MANUAL_TRIAGE,)),
    "reviewed": ("Reviewed", (Ticket.Status.REVIEWED,)),
}


def _tickets(status_filter: str, query: str = "") -> QuerySet[Ticket]:
    statuses = STATUS_FILTERS[status_filter][1] if status_filter in STATUS_FILTERS else ()
    return selectors.review_queue_list(statuses=statuses, query=query)


def _row(request: HttpRequest, row_id: str) -> HttpResponse:
    ticket = selectors.review_queue_list().filter(id=row_id).first() if row_id.isdigit() else None
    if ticket is None:
        return HttpResponse("")  # deleted meanwhile: the swap removes the row, and its polling
    context = {
        "ticket": ticket,
        "labels": selectors.taxonomy_labels(),
        "poll_s": settings.TRIAGE_POLL_INTERVAL_S,
    }
    return render(request, "triage/queue.html#ticket-row", context)


@require_safe
def review_queue(request: HttpRequest) -> HttpResponse:
    if request.htmx and "row" in request.GET:
        response = _row(request, request.GET["row"])
    else:
        status_filter = request.GET.get("status", "").lower()
        status_filter = status_filter if status_filter in STATUS_FILTERS else ""
        query = request.GET.get("q", "").strip()[:200]
        page = Paginator(_tickets(status_filter, query), settings.TRIAGE_QUEUE_PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        counts = selectors.ticket_status_counts()
        filters = [("", "All", sum(counts.values()))] + [
            (key, title, sum(counts.get(s, 0) for s in statuses))
            for key, (title, statuses) in STATUS_FILTERS.items()
        ]
        context = {
            "page_obj": page,
            "status_filter": status_filter,
            "filters": filters,
            "query": query,
            "labels": selectors.taxonomy_labels(),
            "poll_s": settings.TRIAGE_POLL_INTERVAL_S,
        }
        response = render(request, "triage/queue.html", context)
    patch_vary_headers(response, ("HX-Request",))
    return response
