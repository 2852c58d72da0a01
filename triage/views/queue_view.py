"""A queue view carried from the queue to a ticket and on to the next: the queue's query string
(filters and sort) in `?view=`, so "next", "previous" and "back to the list" stay in that view."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.http import QueryDict
from django.urls import reverse

from triage import selectors
from triage.adapters.llm.base import Taxonomy
from triage.forms import STATUS_FILTERS, queue_filter_form, queue_filters
from triage.selectors import QueueFilters
from triage.views import AuthedRequest

# what the queue's URL may hold that is not part of the view itself
_NOT_VIEW = ("page", "row", "since", "view")
MAX_VIEW_CHARS = 1000


def view_string(query: QueryDict) -> str:
    """The view part of a queue URL's query string, normalised (no page, no polling keys)."""
    kept = query.copy()
    for key in _NOT_VIEW:
        kept.pop(key, None)
    return kept.urlencode()[:MAX_VIEW_CHARS]


def view_filters(request: AuthedRequest, view: str, *, taxonomy: Taxonomy | None = None) -> QueueFilters:
    data = QueryDict(view[:MAX_VIEW_CHARS])
    status_filter = data.get("status", "").lower()
    taxonomy = taxonomy or selectors.taxonomy_get()
    form = queue_filter_form(data, taxonomy=taxonomy)
    return queue_filters(
        status_filter=status_filter if status_filter in STATUS_FILTERS else "",
        form=form,
        taxonomy=taxonomy,
        user_id=request.user.id,
    )


@dataclass(frozen=True)
class ViewLinks:
    view: str
    list_url: str
    previous_url: str | None
    next_url: str | None

    @property
    def suffix(self) -> str:
        return f"?{urlencode({'view': self.view})}" if self.view else ""

    @property
    def then_next_suffix(self) -> str:
        """The review form's "& next" buttons post here: the same view, then the next ticket."""
        return "?" + urlencode({"view": self.view, "then": "next"} if self.view else {"then": "next"})


def ticket_url(ticket_id: int, view: str) -> str:
    url = reverse("triage:ticket-detail", args=[ticket_id])
    return f"{url}?{urlencode({'view': view})}" if view else url


def view_links(
    request: AuthedRequest, *, ticket_id: int, taxonomy: Taxonomy | None = None, previous: bool = True
) -> ViewLinks:
    """Where n, p and u lead from `ticket_id` in the view the request carries (without `previous`,
    no previous link: a decision only goes on to the next ticket)."""
    view = view_string(QueryDict(request.GET.get("view", "")[:MAX_VIEW_CHARS]))
    near = selectors.review_queue_neighbours(
        filters=view_filters(request, view, taxonomy=taxonomy), ticket_id=ticket_id, previous=previous
    )
    queue = reverse("triage:review-queue")
    return ViewLinks(
        view=view,
        list_url=f"{queue}?{view}" if view else queue,
        previous_url=ticket_url(near.previous_id, view) if near.previous_id else None,
        next_url=ticket_url(near.next_id, view) if near.next_id else None,
    )
