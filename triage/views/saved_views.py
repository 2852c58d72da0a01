"""Saved queue views: create, rename, update, delete (one POST endpoint), and the sidebar's live
counts (htmx)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from triage import selectors
from triage.forms import STATUS_FILTERS, queue_filter_form, queue_filters
from triage.models import SavedView
from triage.roles import agent_required
from triage.services.saved_views import (
    SavedViewError,
    saved_view_can_edit,
    saved_view_create,
    saved_view_delete,
    saved_view_update,
    saved_views_visible,
)
from triage.views import AuthedRequest
from triage.views.params import id_param, next_path


def saved_view_url(view: SavedView) -> str:
    query = f"{view.query}&" if view.query else ""
    return f"{reverse('triage:review-queue')}?{query}view={view.id}"


def saved_view_rows(request: AuthedRequest, *, counts: bool = True) -> list[dict]:
    """The sidebar's rows: the user's views, then the shared ones, each with its link (and count)."""
    views = sorted(
        saved_views_visible(user=request.user), key=lambda v: (v.owner_id != request.user.id, v.name.lower())
    )
    taxonomy = selectors.taxonomy_get() if counts else None
    rows = []
    for view in views:
        row = {
            "view": view,
            "url": saved_view_url(view),
            "editable": saved_view_can_edit(user=request.user, view=view),
            "group": "Mine" if view.owner_id == request.user.id else "Shared",
            "count": None,
        }
        if taxonomy is not None:
            data = QueryDict(view.query)
            status = data.get("status", "")
            filters = queue_filters(
                status_filter=status if status in STATUS_FILTERS else "",
                form=queue_filter_form(data, taxonomy=taxonomy),
                taxonomy=taxonomy,
                user_id=request.user.id,
            )
            row["count"] = selectors.review_queue_filtered(filters=filters).count()
        rows.append(row)
    return rows


@require_safe
@agent_required
def saved_view_counts(request: AuthedRequest) -> HttpResponse:
    """The sidebar's list with each view's count of matching tickets (polled by htmx)."""
    context = {
        "rows": saved_view_rows(request, counts=True),
        "active_id": id_param(request.GET.get("active", "")),
    }
    return render(request, "triage/saved_views/_list.html", context)


@require_POST
@agent_required
def saved_views_post(request: AuthedRequest) -> HttpResponse:
    action = request.POST.get("action", "")
    view_id = id_param(request.POST.get("view", ""))
    back = next_path(request, request.POST.get("next")) or reverse("triage:review-queue")
    columns = request.POST.getlist("columns")
    try:
        if action == "create":
            view = saved_view_create(
                user=request.user,
                name=request.POST.get("name", ""),
                query=request.POST.get("query", ""),
                columns=columns,
                shared=bool(request.POST.get("shared")),
            )
            messages.success(request, f"View “{view.name}” saved.")
            return redirect(saved_view_url(view))
        if view_id is None or action not in ("rename", "update", "delete"):
            messages.error(request, "Choose a view and an action.")
            return redirect(back)
        if action == "delete":
            saved_view_delete(user=request.user, view_id=view_id)
            messages.success(request, "View deleted.")
            return redirect(reverse("triage:review-queue"))
        if action == "rename":
            view = saved_view_update(user=request.user, view_id=view_id, name=request.POST.get("name", ""))
        else:
            view = saved_view_update(
                user=request.user,
                view_id=view_id,
                query=request.POST.get("query", ""),
                columns=columns,
                shared=bool(request.POST.get("shared")),
            )
        messages.success(request, f"View “{view.name}” saved.")
        return redirect(saved_view_url(view))
    except SavedViewError as e:
        messages.error(request, str(e))
    except SavedView.DoesNotExist:
        messages.error(request, "No such view.")
    except PermissionError as e:
        messages.error(request, str(e))
        return HttpResponse(str(e), status=403) if request.htmx else redirect(back)
    return redirect(back)
