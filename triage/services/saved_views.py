"""Saved queue views: a name for a set of filters, a sort and the columns shown.

A view is its owner's, or shared with everyone; a shared view is changed only by its owner or a
manager, a personal one only by its owner (no one else sees it). The stored query keeps only the
queue's own parameters (the filters, the status tab, the sort), never a page number.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode

from django.contrib.auth.models import User
from django.db.models import Q, QuerySet

from triage.models import SavedView
from triage.roles import Role, user_has_role

# the queue's parameters a view keeps, in this order
VIEW_PARAMS = (
    "status",
    "q",
    "category",
    "priority",
    "queue",
    "channel",
    "confidence_below",
    "low",
    "created_from",
    "created_to",
    "mine",
    "sort",
)
# the columns a view may hide (the queue's headers; Ticket is always shown)
VIEW_COLUMNS = (
    "Status",
    "Category",
    "Priority",
    "Queue",
    "Assignee",
    "Confidence",
    "Files",
    "Age",
    "Due",
    "Channel",
)
MAX_VIEWS_PER_USER = 50


class SavedViewError(Exception):
    pass


def saved_view_query(raw: str) -> str:
    """A query string reduced to the queue's own parameters, in a stable order."""
    pairs = [(k, v) for k, v in parse_qsl(raw.lstrip("?"), keep_blank_values=False) if k in VIEW_PARAMS]
    pairs.sort(key=lambda kv: VIEW_PARAMS.index(kv[0]))
    return urlencode(pairs)[:1000]


def saved_view_columns(columns: Sequence[str]) -> list[str]:
    """The known columns, in the queue's order; none chosen means all."""
    chosen = [c for c in VIEW_COLUMNS if c in set(columns)]
    return [] if len(chosen) == len(VIEW_COLUMNS) else chosen


def saved_views_visible(*, user: User) -> QuerySet[SavedView]:
    return SavedView.objects.filter(Q(owner=user) | Q(shared=True)).select_related("owner")


def saved_view_can_edit(*, user: User, view: SavedView) -> bool:
    if view.owner_id == user.id:
        return True
    return view.shared and user_has_role(user, Role.MANAGER)


def _name(name: str) -> str:
    name = " ".join(name.split())[:80]
    if not name:
        raise SavedViewError("Give the view a name.")
    return name


def saved_view_create(
    *, user: User, name: str, query: str, columns: Sequence[str] = (), shared: bool = False
) -> SavedView:
    if SavedView.objects.filter(owner=user).count() >= MAX_VIEWS_PER_USER:
        raise SavedViewError(f"At most {MAX_VIEWS_PER_USER} views each: delete one first.")
    return SavedView.objects.create(
        owner=user,
        name=_name(name),
        query=saved_view_query(query),
        columns=saved_view_columns(columns),
        shared=shared,
    )


def _editable(*, user: User, view_id: int) -> SavedView:
    view = saved_views_visible(user=user).filter(id=view_id).first()
    if view is None:
        raise SavedView.DoesNotExist
    if not saved_view_can_edit(user=user, view=view):
        raise PermissionError("Only its owner or a manager may change a shared view.")
    return view


def saved_view_update(
    *,
    user: User,
    view_id: int,
    name: str | None = None,
    query: str | None = None,
    columns: Sequence[str] | None = None,
    shared: bool | None = None,
) -> SavedView:
    """Rename a view, or save the current filters, sort and columns into it."""
    view = _editable(user=user, view_id=view_id)
    if name is not None:
        view.name = _name(name)
    if query is not None:
        view.query = saved_view_query(query)
    if columns is not None:
        view.columns = saved_view_columns(columns)
    if shared is not None:
        view.shared = shared
    view.save()
    return view


def saved_view_delete(*, user: User, view_id: int) -> None:
    _editable(user=user, view_id=view_id).delete()
