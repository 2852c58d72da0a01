"""The review queue: one page, which also serves a single row to the rows that poll."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import User
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST, require_safe

from triage import selectors
from triage.forms import STATUS_FILTERS, queue_filter_form, queue_filters
from triage.roles import agent_required
from triage.selectors.calibration import queue_mark_low
from triage.services.bulk import BULK_ACTIONS, BULK_MAX_TICKETS, bulk_apply, bulk_summary, ticket_versions
from triage.services.presence import presence_for_tickets
from triage.services.review import ticket_version
from triage.views import AuthedRequest
from triage.views.params import id_param, id_params, next_path
from triage.views.queue_view import view_filters, view_string


def _row(request: AuthedRequest, row_id: str) -> HttpResponse:
    ticket_id = id_param(row_id)
    rows = selectors.review_queue_rows(ids=[ticket_id]) if ticket_id is not None else []
    ticket = rows[0] if rows else None
    if ticket is None:
        return HttpResponse("")  # deleted meanwhile: the swap removes the row, and its polling
    ticket.seen_version = ticket_version(ticket=ticket)  # type: ignore[attr-defined]
    queue_mark_low([ticket])
    context = {
        "ticket": ticket,
        "labels": selectors.taxonomy_labels(),
        "poll_s": settings.TRIAGE_POLL_INTERVAL_S,
        "view": view_string(request.GET),
        "assignee_names": _assignee_names(list(selectors.assignee_list())),
        "present": presence_for_tickets(ticket_ids=[ticket.id], exclude_user_id=request.user.id),
    }
    return render(request, "triage/queue.html#ticket-row", context)


def _assignee_names(people: list[User]) -> dict[int, str]:
    return {p.id: p.get_full_name() or p.get_username() for p in people}


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
        snapshot = selectors.taxonomy_snapshot()  # the filters' values and the rows' labels, one query
        taxonomy = snapshot.taxonomy
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
        for ticket in page.object_list:
            ticket.seen_version = ticket_version(ticket=ticket)  # the bulk form's version check
        assignees = list(selectors.assignee_list())  # the Assignee column and bulk assign, one query
        queue_mark_low(page.object_list)
        context = {
            "assignees": assignees,
            "assignee_names": _assignee_names(assignees),
            "bulk_actions": list(BULK_ACTIONS.items()),
            "bulk_choices": [
                (name, [c for c in form.fields[name].choices if c[0]])  # type: ignore[attr-defined]
                for name in ("priority", "queue", "category")
            ],
            "page_obj": page,
            "present": presence_for_tickets(
                ticket_ids=[t.id for t in page.object_list], exclude_user_id=request.user.id
            ),
            "status_filter": status_filter,
            "filters": tabs,
            "filter_form": form,
            "filtered": filtered,
            "labels": snapshot.labels,
            "poll_s": settings.TRIAGE_POLL_INTERVAL_S,
            "since": selectors.ticket_newest_id(),
            "new_count": 0,
            "live_s": settings.TRIAGE_QUEUE_LIVE_INTERVAL_S,
            "view": view_string(request.GET),  # carried to the tickets: their next/previous
        }
        response = render(request, "triage/queue.html", context)
    patch_vary_headers(response, ("HX-Request",))
    return response


def _seen_versions(request: AuthedRequest) -> dict[int, str]:
    """`seen` fields, "<id>:<version>" each: the version of each row the reviewer had on screen."""
    seen: dict[int, str] = {}
    for item in request.POST.getlist("seen")[:BULK_MAX_TICKETS]:
        ticket_id, _, version = item.partition(":")
        number = id_param(ticket_id)
        if number is not None and version:
            seen[number] = version[:64]
    return seen


def _bulk_value(request: AuthedRequest, action: str) -> tuple[str, User | None] | None:
    """The action's value from the form, checked; None when it is missing or not allowed."""
    if action == "assign":
        raw = request.POST.get("assignee", "")
        if not raw:
            return "", None
        assignee_id = id_param(raw)
        person = selectors.assignee_list().filter(id=assignee_id).first() if assignee_id is not None else None
        return ("", person) if person is not None else None
    if action in ("priority", "queue", "category"):
        value = request.POST.get(action, "")
        return (value, None) if value in {v for v, _ in selectors.taxonomy_choices(field=action)} else None
    if action == "duplicate":
        value = request.POST.get("original", "").strip()
        return (value, None) if value else None
    return "", None  # accept


@require_POST
@agent_required
def review_queue_bulk(request: AuthedRequest) -> HttpResponse:
    """Bulk actions on the ticked tickets, or on every ticket the view matches ("all N matching");
    back to the same filtered view with what was done and what was skipped, and why."""
    back = next_path(request, request.POST.get("next")) or reverse("triage:review-queue")
    action = request.POST.get("action", "")
    if action == "change":
        action = request.POST.get("change", "")
    if request.POST.get("scope") == "all":
        view = view_string(QueryDict(request.POST.get("view", "")))
        matching = selectors.review_queue_filtered(filters=view_filters(request, view))
        ids = list(matching.order_by("id").values_list("id", flat=True)[: BULK_MAX_TICKETS + 1])
        if len(ids) > BULK_MAX_TICKETS:
            messages.error(request, f"More than {BULK_MAX_TICKETS} tickets match: narrow the filters first.")
            return redirect(back)
        seen = ticket_versions(ticket_ids=ids)  # changes from here on are caught, one by one
    else:
        ids = id_params(request.POST.getlist("ticket"), limit=BULK_MAX_TICKETS)
        seen = _seen_versions(request)
    value = _bulk_value(request, action) if action in BULK_ACTIONS else None
    if not ids or value is None:
        messages.error(request, "Choose tickets, an action and its value.")
        return redirect(back)
    result = bulk_apply(
        ticket_ids=ids, user=request.user, action=action, value=value[0], assignee=value[1], seen=seen
    )
    done, skipped = bulk_summary(result=result, action=action)
    if done:
        messages.success(request, done)
    if skipped:
        messages.warning(request, skipped)
    return redirect(back)
