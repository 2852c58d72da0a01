"""A ticket's neighbours in a queue view (its filters and sort), for "next" and "previous".

The queue's orders are read as bands, each band ordered by a few columns: the neighbour is found
with a keyset comparison inside the ticket's band, then the first row of the following bands. Every
step is an index range scan with LIMIT 1, so it stays cheap at 100,000 tickets, and it does not
need the page the ticket was on.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from triage.models import Ticket
from triage.selectors.queue import QUEUE_SORTS, QueueFilters, review_queue_bands, review_queue_filtered
from triage.selectors.taxonomy import taxonomy_get

# (column, ascending) per sort, inside each band
_KEYS: dict[str, tuple[tuple[str, bool], ...]] = {
    "newest": (("created_at", False), ("id", False)),
    "oldest": (("created_at", True), ("id", True)),
    "confidence": (("confidence", True), ("created_at", True), ("id", True)),
    "work": (("created_at", True), ("id", True)),
}


@dataclass(frozen=True)
class Neighbours:
    previous_id: int | None
    next_id: int | None


def _bands(filters: QueueFilters) -> list[Q]:
    if filters.sort == "confidence":  # NULLS FIRST: the unscored tickets are a band of their own
        return [Q(confidence__isnull=True), Q(confidence__isnull=False)]
    if filters.sort in QUEUE_SORTS and filters.sort != "work":
        return [Q()]
    urgent = filters.urgent
    if urgent is None:
        urgent = tuple(e.value for e in taxonomy_get().priorities[-2:])
    return [band for _, band in review_queue_bands(filters, urgent)]


def _after(keys: tuple[tuple[str, bool], ...], ticket: Ticket, *, forward: bool) -> Q:
    """Rows strictly after `ticket` in `keys` order (before it when not `forward`)."""
    result = Q(pk__in=[])
    equal = Q()
    for column, ascending in keys:
        value = getattr(ticket, column)
        if value is None:  # only the NULL band's confidence: equal for every row of that band
            continue
        lookup = "gt" if ascending == forward else "lt"
        result |= equal & Q(**{f"{column}__{lookup}": value})
        equal &= Q(**{column: value})
    return result


def _order(keys: tuple[tuple[str, bool], ...], *, forward: bool) -> list[str]:
    return [column if ascending == forward else f"-{column}" for column, ascending in keys]


def _first(qs: QuerySet[Ticket], order: list[str]) -> int | None:
    return qs.order_by(*order).values_list("id", flat=True).first()


def review_queue_neighbours(*, filters: QueueFilters, ticket_id: int, previous: bool = True) -> Neighbours:
    """The tickets just before and after `ticket_id` in the view. A ticket that is not (or no
    longer) in the view has no previous one, and the view's first ticket as its next. Without
    `previous`, only the next one is looked up (previous_id is None)."""
    sort = filters.sort if filters.sort in _KEYS else "work"
    keys = _KEYS[sort]
    bare = review_queue_filtered(filters=filters).exclude(id=ticket_id)
    bands = _bands(filters)
    ticket = Ticket.objects.filter(id=ticket_id).only("id", "created_at", "confidence").first()
    position = None
    if ticket is not None:
        mine = review_queue_filtered(filters=filters).filter(id=ticket_id)
        position = next((n for n, band in enumerate(bands) if mine.filter(band).exists()), None)
    if ticket is None or position is None:
        for band in bands:
            first = _first(bare.filter(band), _order(keys, forward=True))
            if first is not None:
                return Neighbours(previous_id=None, next_id=first)
        return Neighbours(previous_id=None, next_id=None)

    def walk(forward: bool) -> int | None:
        order = _order(keys, forward=forward)
        found = _first(bare.filter(bands[position]).filter(_after(keys, ticket, forward=forward)), order)
        if found is not None:
            return found
        others = bands[position + 1 :] if forward else list(reversed(bands[:position]))
        for band in others:
            found = _first(bare.filter(band), order)
            if found is not None:
                return found
        return None

    return Neighbours(previous_id=walk(False) if previous else None, next_id=walk(True))
