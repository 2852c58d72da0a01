"""Keyset (cursor) pagination over the queue's filters and sorts.

A cursor names the last row a page returned by its sort key, never by an offset: a ticket inserted
meanwhile lands before or after that key, so a client walking the pages sees every row that existed
when it started exactly once. The "work" sort's bands are read one band at a time, each from the
created_at index (the queue page does the same, selectors/queue.py); at most one query per
band plus one for the rows, whatever the page size: a constant query count.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from triage import selectors
from triage.api.problems import bad_request
from triage.models import Ticket
from triage.selectors.queue import review_queue_bands


@dataclass(frozen=True)
class CursorPage:
    tickets: list[Ticket]
    next_cursor: str | None


def _encode(sort: str, key: list) -> str:
    raw = json.dumps({"s": sort, "k": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, sort: str) -> list:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        key = data["k"]
        if data["s"] != sort or not isinstance(key, list):
            raise ValueError("the cursor was made for another sort")
        created = datetime.fromisoformat(key[-2])
        ident = int(key[-1])
        head = key[:-2]
        if sort == "work" and not (len(head) == 1 and isinstance(head[0], int)):
            raise ValueError("bad band")
        if sort == "confidence" and not (
            len(head) == 1 and (head[0] is None or isinstance(head[0], float | int))
        ):
            raise ValueError("bad confidence")
        return [*head, created, ident]
    except (ValueError, KeyError, TypeError, IndexError, binascii.Error, UnicodeDecodeError) as exc:
        raise bad_request(
            "The cursor is not one this API returned (or was made for another sort): "
            "start again without `cursor`.",
            reason=str(exc),
        ) from None


def _after(created: datetime, ident: int) -> Q:
    return Q(created_at__gt=created) | Q(created_at=created, id__gt=ident)


def _before(created: datetime, ident: int) -> Q:
    return Q(created_at__lt=created) | Q(created_at=created, id__lt=ident)


def _ids_simple(qs: QuerySet[Ticket], sort: str, key: list | None, limit: int) -> list[tuple]:
    if sort == "newest":
        if key:
            qs = qs.filter(_before(key[0], key[1]))
        rows = qs.order_by("-created_at", "-id").values_list("created_at", "id")[:limit]
        return [(c.isoformat(), i) for c, i in rows]
    if sort == "oldest":
        if key:
            qs = qs.filter(_after(key[0], key[1]))
        rows = qs.order_by("created_at", "id").values_list("created_at", "id")[:limit]
        return [(c.isoformat(), i) for c, i in rows]
    # confidence: unknown (null) first, then lowest first; ties by age
    if key:
        conf, created, ident = key
        if conf is None:
            qs = qs.filter(
                (Q(confidence__isnull=True) & _after(created, ident)) | Q(confidence__isnull=False)
            )
        else:
            qs = qs.filter(Q(confidence__gt=conf) | (Q(confidence=conf) & _after(created, ident)))
    nulls: list[tuple[datetime, int]] = []
    if not key or key[0] is None:
        nulls = list(
            qs.filter(confidence__isnull=True)
            .order_by("created_at", "id")
            .values_list("created_at", "id")[:limit]
        )
    found: list[tuple] = [(None, c.isoformat(), i) for c, i in nulls]
    if len(found) < limit:
        rest = qs.filter(confidence__isnull=False).order_by("confidence", "created_at", "id")
        found += [
            (conf, c.isoformat(), i)
            for conf, c, i in rest.values_list("confidence", "created_at", "id")[: limit - len(found)]
        ]
    return found


def _ids_work(
    qs: QuerySet[Ticket], filters: selectors.QueueFilters, key: list | None, limit: int
) -> list[tuple]:
    urgent = filters.urgent or tuple(e.value for e in selectors.taxonomy_get().priorities[-2:])
    rows: list[tuple] = []
    for band, where in review_queue_bands(filters, urgent):
        if key and band < key[0]:
            continue
        part = qs.filter(where)
        if key and band == key[0]:
            part = part.filter(_after(key[1], key[2]))
        found = part.order_by("created_at", "id").values_list("created_at", "id")[: limit - len(rows)]
        rows += [(band, c.isoformat(), i) for c, i in found]
        if len(rows) >= limit:
            break
    return rows


def ticket_cursor_page(*, filters: selectors.QueueFilters, cursor: str | None, limit: int) -> CursorPage:
    sort = filters.sort if filters.sort in selectors.QUEUE_SORTS else "work"
    key = _decode(cursor, sort) if cursor else None
    bare = selectors.review_queue_filtered(filters=filters)
    # one row more than asked: whether there is a next page, without a count
    if sort == "work":
        keys = _ids_work(bare, filters, key, limit + 1)
    else:
        keys = _ids_simple(bare, sort, key, limit + 1)
    more = len(keys) > limit
    keys = keys[:limit]
    ids = [k[-1] for k in keys]
    rows = {t.id: t for t in Ticket.objects.filter(id__in=ids).select_related("assignee")}
    tickets = [rows[i] for i in ids if i in rows]
    return CursorPage(tickets=tickets, next_cursor=_encode(sort, list(keys[-1])) if more and keys else None)
