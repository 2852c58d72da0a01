"""The review queue: one page, which also serves a single row to the rows that poll."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST, require_safe

from triage import selectors
from triage.forms import STATUS_FILTERS, queue_filter_form, queue_filters
from triage.roles import agent_required
from triage.selectors.calibration import queue_mark_low
from triage.services.review import review_bulk_accept
from triage.views import AuthedRequest
from triage.views.params import id_param, id_params, next_path


def _row(request: AuthedRequest, row_id: str) -> HttpResponse:
    ticket_id = id_param(row_id)
    ticket = selectors.review_queue_list().filter(id=ticket_id).first() if ticket_id is not None else None
    if ticket is None:
        return HttpResponse("")  # deleted meanwhile: the swap removes the row, and its polling
    queue_mark_low([ticket])
    context = {
        "ticket": ticket,
        "labels": selectors.taxonomy_labels(),
        "poll_s": settings.TRIAGE_POLL_INTERVAL_S,
    }
    return render(request, "triage/queue.html#ticket-row", context)


def _status_filter(request: AuthedRequest) -> str:
    status_filter = request.GET.get("status", "").lower()
    return status_filter if status_filter in STATUS_FILTERS else ""


def _new_tickets(request: AuthedRequest, since_param: str) -> HttpResponse:
    """The queue's poll: how many tickets matching the page's filters arrived after `since` (the
    newest id when the page was drawn). Counting ids past a marker is an index range scan, cheap
    every few seconds; the table itself is only redrawn when the reviewer asks (so nothing ticked
    or focused is lost)."""
    taxonomy = selectors.taxonomy_get()
    form = queue_filter_form(request.GET, taxonomy=taxonomy)
    filters = queue_filters(
        status_filter=_status_filter(request), form=form, taxonomy=taxonomy, user_id=request.user.id
    )
    since = id_param(since_param) or 0
    new = selectors.review_queue_new_count(filters=filters, since_id=since)
    context = {"new_count": new, "since": since, "live_s": settings.TRIAGE_QUEUE_LIVE_INTERVAL_S}
    return render(request, "triage/queue.html#live-bar", context)


@require_safe
@agent_required
def review_queue(request: AuthedRequest) -> HttpResponse:
    if request.htmx and "row" in request.GET:
        response = _row(request, request.GET["row"])
    elif request.htmx and "since" in request.GET:
        response = _new_tickets(request, request.GET["since"])
    else:
        status_filter = _status_filter(request)
        taxonomy = selectors.taxonomy_get()
        form = queue_filter_form(request.GET, taxonomy=taxonomy)
        filters = queue_filters(
            status_filter=status_filter, form=form, taxonomy=taxonomy, user_id=request.user.id
        )
        counts = selectors.ticket_status_counts()
        tabs = [("", "All", sum(counts.values()))] + [
            (key, title, sum(counts.get(s, 0) for s in statuses))
            for key, (title, statuses) in STATUS_FILTERS.items()
        ]
        filtered = any(request.GET.get(k) for k in form.fields if k != "sort")
        page = selectors.review_queue_page(
            filters=filters,
            number=request.GET.get("page"),
            per_page=settings.TRIAGE_QUEUE_PAGE_SIZE,
            # with no filter but the status tab, the tab's count is the page count: no second count
            count=None if filtered else next(n for key, _, n in tabs if key == status_filter),
        )
        queue_mark_low(page.object_list)
        context = {
            "page_obj": page,
            "status_filter": status_filter,
            "filters": tabs,
            "filter_form": form,
            "filtered": filtered,
            "labels": selectors.taxonomy_labels(),
            "poll_s": settings.TRIAGE_POLL_INTERVAL_S,
            "since": selectors.ticket_newest_id(),
            "new_count": 0,
            "live_s": settings.TRIAGE_QUEUE_LIVE_INTERVAL_S,
        }
        response = render(request, "triage/queue.html", context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_POST
@agent_required
def review_queue_bulk(request: AuthedRequest) -> HttpResponse:
    """Bulk actions from the queue's checkboxes; back to the same filtered view."""
    ids = id_params(request.POST.getlist("ticket"), limit=200)
    back = next_path(request, request.POST.get("next")) or reverse("triage:review-queue")
    if request.POST.get("action") != "accept" or not ids:
        messages.error(request, "Choose tickets and an action.")
        return redirect(back)
    accepted, skipped = review_bulk_accept(ticket_ids=ids, user=request.user)
    if accepted:
        messages.success(
            request, f"Accepted {len(accepted)} ticket{'s' if len(accepted) != 1 else ''} as proposed."
        )
    if skipped:
        messages.warning(request, "Not accepted: " + "; ".join(skipped) + ".")
    return redirect(back)
