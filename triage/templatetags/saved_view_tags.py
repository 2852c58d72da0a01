"""The queue's saved-views sidebar, drawn from the request (so the queue view passes nothing)."""

from __future__ import annotations

import json

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from triage.services.saved_views import VIEW_COLUMNS, saved_view_can_edit, saved_views_visible
from triage.views.params import id_param

register = template.Library()


@register.simple_tag(takes_context=True)
def saved_views_sidebar(context) -> SafeString:
    request = context["request"]
    # the list and its counts come by htmx, off the queue page's time; only the open view is read
    active_id = id_param(request.GET.get("view", ""))
    view = saved_views_visible(user=request.user).filter(id=active_id).first() if active_id else None
    active = {"view": view, "editable": saved_view_can_edit(user=request.user, view=view)} if view else None
    query = request.GET.copy()
    for key in ("page", "view", "since", "row"):
        query.pop(key, None)
    columns = view.columns if view else []
    ctx = {
        "rows": None,
        "active": active,
        "active_id": active_id,
        "query": query.urlencode(),
        "next": request.get_full_path(),
        "all_columns": VIEW_COLUMNS,
        "columns": columns,
        "columns_json": json.dumps(columns),
        "known_json": json.dumps(VIEW_COLUMNS),
    }
    return SafeString(render_to_string("triage/saved_views/_sidebar.html", ctx, request=request))
