"""The review queue: filters, search, the work order and its pages."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from django.core.paginator import Page, Paginator
from django.db import connection, connections, router
from django.db.models import (
    Case,
    Count,
    F,
    FilteredRelation,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
    Window,
)
from django.db.models.expressions import RawSQL

from triage.models import (
    REVIEWED_STATES,
    Attachment,
    Rendition,
    Ticket,
)
from triage.selectors.calibration import LOW_CONFIDENCE, calibration_levels, low_flag, low_flag_q
from triage.selectors.taxonomy import taxonomy_get


@dataclass(frozen=True)
class QueueFilters:
    """What the queue page's URL asks for (forms.QueueFilterForm); every field optional."""

    statuses: tuple[str, ...] = ()
    category: str = ""
    priority: str = ""
    queue: str = ""
    channel: str = ""
    confidence_below: float | None = None
    created_from: date | None = None
    created_to: date | None = None
    q: str = ""
    sort: str = "work"  # QUEUE_SORTS
    urgent: tuple[str, ...] | None = None  # the priorities of the first band; None: the top two
    assignee_id: int | None = None  # "assigned to me"
    low: bool = False  # flagged LOW (selectors.calibration.low_flag_q)


# "work": what needs a person first (manual triage and the two highest priorities, then low
# confidence, then the rest; reviewed and in-progress tickets last), oldest first within a band.
QUEUE_SORTS = {
    "work": "Needs a human first",
    "newest": "Newest first",
    "oldest": "Oldest first",
    "confidence": "Lowest confidence first",
    "due": "Due soonest (SLA)",
}


def review_queue_list(
    *, statuses: Sequence[str] = (), filters: QueueFilters | None = None
) -> QuerySet[Ticket]:
    """The queue's tickets, in the order asked for (bare: review_queue_rows reads what a row
    shows). The page itself is cut by review_queue_page, which sorts ids only."""
    filters = filters or QueueFilters(statuses=tuple(statuses))
    return _ordered(review_queue_filtered(filters=filters), filters.sort, urgent=filters.urgent)


# What a row shows (templatetags/queue_tags.queue_row, sla_tags.sla_cell, the LOW badge, the bulk
# form's version, search snippets): a page reads only these columns. The rest (the description up
# to 100,000 characters, the run's raw output and reasoning, a dozen timestamps) cost a page of 100
# rows ~5 ms of decoding for nothing. Reading a column not listed here would cost a query per row:
# tests/views/test_queue.py renders rows in every state with the query count of one plain row.
_ROW_FIELDS = (
    "subject",
    "requester_email",
    "channel",
    "status",
    "created_at",
    "updated_at",
    "reviewed_at",
    "category",
    "priority",
    "queue",
    "confidence",
    "assignee",
    "sla_first_due_at",
    "sla_due_at",
    "sla_paused_at",
    "latest_run__model",
    "latest_run__result",
)
_SNIPPET_FIELDS = ("summary", "description")  # searched text, shown around the match


@dataclass(frozen=True)
class Thumb:
    id: int
    width: int
    height: int


THUMBS_PER_ROW = 3  # the first three processed attachments' thumbnails


def review_queue_rows(*, ids: Sequence[int], searching: bool = False) -> list[Ticket]:
    """The tickets `ids` in that order, each with what its queue row shows: its columns, its latest
    run's model and result, `attachment_count`, `rejected_count` and `thumbs` (Thumb, of its first
    THUMBS_PER_ROW processed attachments). Two queries for any number of rows; `searching` adds the
    text the search snippets are cut from."""
    fields = (*_ROW_FIELDS, *_SNIPPET_FIELDS) if searching else _ROW_FIELDS
    found = {
        t.id: t for t in Ticket.objects.filter(id__in=list(ids)).select_related("latest_run").only(*fields)
    }
    tickets = [found[i] for i in ids if i in found]
    _attach_files(tickets)
    return tickets


_UNUSABLE = (Attachment.Status.REJECTED, Attachment.Status.FAILED)


def _attach_files(tickets: list[Ticket]) -> None:
    """Every attachment of the tickets with its thumbnails, as bare tuples (no model instances):
    one query, counted and cut in Python (a ticket holds a handful of files)."""
    by_ticket: dict[int, tuple[list[int], set[int], dict[int, list[Thumb]]]] = {
        t.id: ([], set(), {}) for t in tickets
    }
    rows = (
        Attachment.objects.filter(ticket_id__in=list(by_ticket))
        .annotate(thumb=FilteredRelation("renditions", condition=Q(renditions__kind=Rendition.Kind.THUMB)))
        .order_by("ticket_id", "id", "thumb__index", "thumb__id")
        .values_list("ticket_id", "id", "status", "thumb__id", "thumb__width", "thumb__height")
    )
    for ticket_id, attachment_id, status, thumb_id, width, height in rows:
        ids, unusable, thumbs = by_ticket[ticket_id]
        if not ids or ids[-1] != attachment_id:
            ids.append(attachment_id)
            if status in _UNUSABLE:
                unusable.add(attachment_id)
            elif status == Attachment.Status.DONE and len(thumbs) < THUMBS_PER_ROW:
                thumbs[attachment_id] = []
        if thumb_id is not None and attachment_id in thumbs:
            thumbs[attachment_id].append(Thumb(thumb_id, width, height))
    for ticket in tickets:
        ids, unusable, thumbs = by_ticket[ticket.id]
        ticket.attachment_count = len(ids)  # type: ignore[attr-defined]
        ticket.rejected_count = len(unusable)  # type: ignore[attr-defined]
        ticket.thumbs = [thumb for shown in thumbs.values() for thumb in shown]  # type: ignore[attr-defined]


def review_queue_filtered(*, filters: QueueFilters) -> QuerySet[Ticket]:
    """The tickets the filters select, unordered and bare: for counting, and for the queue's
    "new tickets" poll."""
    qs = Ticket.objects.order_by()
    if filters.statuses:
        qs = qs.filter(status__in=list(filters.statuses))
    for name in ("category", "priority", "queue", "channel"):
        if value := getattr(filters, name):
            qs = qs.filter(**{name: value})
    if filters.assignee_id is not None:
        qs = qs.filter(assignee_id=filters.assignee_id)
    if filters.confidence_below is not None:
        qs = qs.filter(confidence__lt=filters.confidence_below)
    if filters.low:
        qs = qs.filter(low_flag_q())
    if filters.created_from:
        qs = qs.filter(created_at__date__gte=filters.created_from)
    if filters.created_to:
        qs = qs.filter(created_at__date__lte=filters.created_to)
    if filters.q.strip():
        qs = _search(qs, filters.q.strip())
    return qs


# The stored search vectors: GIN indexes on these expressions (migration 0010_queue_search), so a
# search reads an index instead of parsing every ticket's text (at 100,000 tickets: 1.7 s a page
# before, see bench/queue.py). PostgreSQL uses an expression index only for the same expression
# (same function, configuration and concatenation), so keep these in step with the migrations
# (0012_search_vector_bounded: the first 100,000 characters of a description, a tsvector's limit).
_PG_SEARCH = """
SELECT t.id FROM triage_ticket t
WHERE to_tsvector('simple'::regconfig, t.subject || ' ' || left(t.description, 100000) || ' ' || t.summary)
      @@ websearch_to_tsquery('simple'::regconfig, %s)
UNION
SELECT (SELECT a.ticket_id FROM triage_rendition r JOIN triage_attachment a ON a.id = r.attachment_id
        WHERE r.id = o.rendition_id)
FROM triage_renditiontext o
WHERE to_tsvector('simple'::regconfig, o.text) @@ websearch_to_tsquery('simple'::regconfig, %s)
"""
# The OCR text's ticket is looked up per matching text row (a subquery: two primary-key probes each),
# not joined: for a join the planner estimates a few hundred random probes dearer than reading all of
# triage_rendition, and hashes the whole table (100,000 rows, 15-50 ms) for a few hundred matches.


def _search(qs: QuerySet[Ticket], text: str) -> QuerySet[Ticket]:
    """Full-text search over subject, body, summary and the text OCR read from screenshots and
    frames: PostgreSQL's (websearch syntax, the "simple" configuration, since tickets come in many
    languages), else every word as a case-insensitive substring of one of them (SQLite, the
    embedded default)."""
    if connection.vendor == "postgresql":
        # one UNION of two index scans, not `vector @@ q OR id IN (...)`: an OR across two tables
        # can use neither index
        return qs.filter(id__in=RawSQL(_PG_SEARCH, (text, text)))  # noqa: S611 - bound parameters
    for word in text.split()[:10]:
        read = Ticket.objects.filter(attachments__renditions__ocr__text__icontains=word).values("id")
        qs = qs.filter(
            Q(subject__icontains=word)
            | Q(description__icontains=word)
            | Q(summary__icontains=word)
            | Q(id__in=read)
        )
    return qs


def review_queue_page(
    *, filters: QueueFilters, number: str | int | None, per_page: int, count: int | None = None
) -> Page:
    """One page of the queue, in two steps that stay fast at 100,000+ tickets (bench/queue.py):
    the page's ids from bare, narrow rows, then those rows (review_queue_rows).

    Sorting whole ticket rows to keep 25 spilled to disk (0.4 s at 100,000 tickets); the work
    order's CASE band cannot use an index, so it is read band by band, each band in created_at
    order from an index (a UNION ALL of four LIMITed index scans: under 1 ms). `count`, when the
    caller already knows it (the status tab counts), saves counting again."""
    bare = review_queue_filtered(filters=filters)
    paginator = Paginator(bare.order_by("pk"), per_page)  # the order is irrelevant to counting
    if count is not None:
        paginator.count = count  # a cached_property: set, it is not recomputed
    searching = bool(filters.q.strip())
    sort = filters.sort if filters.sort in QUEUE_SORTS and filters.sort != "work" else "work"
    counted = None
    if searching and count is None:
        # a search's matches found once, not once to count them and again to sort them
        counted = _counted_page_ids(
            _ordered(bare, sort, urgent=filters.urgent), number=number, per_page=per_page
        )
        if counted is not None:
            paginator.count = counted[1]
    page = paginator.get_page(number)
    start, stop = page.start_index() - 1 if page.paginator.count else 0, page.end_index()
    if counted is not None:
        ids = counted[0]
    elif sort != "work":
        ids = list(_ordered(bare, sort, urgent=None).values_list("id", flat=True)[start:stop])
    elif searching:
        # a search selects a few hundred tickets through its index: sorting their ids is cheap, and
        # a band-by-band walk of the created_at index would test the search on every ticket
        ids = list(_ordered(bare, "work", urgent=filters.urgent).values_list("id", flat=True)[start:stop])
    else:
        ids = _work_order_ids(filters=filters, start=start, stop=stop)
    page.object_list = review_queue_rows(ids=ids, searching=searching)
    return page


_PAGE_NUMBER_MAX = 10**9


def _counted_page_ids(
    ordered: QuerySet[Ticket], *, number: str | int | None, per_page: int
) -> tuple[list[int], int] | None:
    """Page `number`'s ids of `ordered` and how many rows there are in all, in one query (COUNT(*)
    OVER (): the sort reads every matching row anyway). None for a page number Paginator.get_page
    would not take as it is (missing is page 1), or a page past the end: the caller counts first."""
    if number in (None, ""):
        wanted = 1
    elif isinstance(number, int) or (str(number).isascii() and str(number).isdigit()):
        wanted = int(str(number))  # ASCII only: '²' is a digit to str.isdigit and not to int()
    else:
        return None
    if not 1 <= wanted <= _PAGE_NUMBER_MAX:  # an OFFSET past bigint is a database error
        return None
    start = (wanted - 1) * per_page
    rows = list(
        ordered.annotate(total=Window(Count("*"))).values_list("id", "total")[start : start + per_page]
    )
    if not rows:
        return None
    return [row[0] for row in rows], int(rows[0][1])


def review_queue_new_count(*, filters: QueueFilters, since_id: int) -> int:
    """Tickets matching `filters` created after the ticket `since_id` (the queue's live poll)."""
    return review_queue_filtered(filters=filters).filter(id__gt=since_id).count()


def ticket_newest_id() -> int:
    return Ticket.objects.order_by("-id").values_list("id", flat=True).first() or 0


# Reviewed in any lifecycle status (Open, Pending, Solved, Closed) is "done" for the review order.
_IN_PROGRESS_OR_DONE = (*REVIEWED_STATES, Ticket.Status.PROCESSING, Ticket.Status.TRIAGING)


def review_queue_bands(
    filters: QueueFilters,
    urgent: tuple[str, ...],
    *,
    levels_by_version: Sequence[tuple[str, object]] | None = None,
) -> list[tuple[int, Q]]:
    """The work order's bands (see _ordered) as disjoint filters, first band first, without the
    bands the filters rule out: a band with no rows would walk the whole created_at index.
    `levels_by_version`: calibration_levels(), when the caller has read them."""
    later = Q(status__in=_IN_PROGRESS_OR_DONE)
    first = ~later & (Q(status=Ticket.Status.MANUAL_TRIAGE) | Q(priority__in=list(urgent)))
    # the LOW badge's own test (calibrated per field where a trained version has levels), so the
    # "low confidence" band holds exactly the tickets the queue flags LOW
    unsure, calibrated = low_flag(levels_by_version)
    bands = [
        (0, first, {Ticket.Status.MANUAL_TRIAGE, Ticket.Status.NEEDS_REVIEW}),
        (1, ~later & ~first & unsure, {Ticket.Status.NEEDS_REVIEW}),
        (2, ~later & ~first & ~unsure, {Ticket.Status.NEEDS_REVIEW}),
        (3, later, set(_IN_PROGRESS_OR_DONE)),
    ]
    # below the fixed level every ticket is LOW (band 2 is empty), unless calibrated levels apply
    confident_only = (
        not calibrated and filters.confidence_below is not None and filters.confidence_below <= LOW_CONFIDENCE
    )
    # filtered to an urgent priority, every ticket still to review is in the first band: the next two
    # are empty (and an empty band walks the whole created_at index: ~40 ms at 100,000 tickets)
    urgent_only = bool(filters.priority) and filters.priority in urgent
    return [
        (n, band)
        for n, band, statuses in bands
        if (not filters.statuses or statuses & set(filters.statuses))
        and not (n == 2 and confident_only)
        and not (n in (1, 2) and urgent_only)
    ]


def _work_order_ids(*, filters: QueueFilters, start: int, stop: int) -> list[int]:
    """Ids [start:stop] of the tickets `filters` select, in the work order, read band by band (see
    review_queue_page)."""
    if stop <= start:
        return []
    if not connection.features.supports_slicing_ordering_in_compound:  # SQLite: one sort, small data
        qs = _ordered(review_queue_filtered(filters=filters), "work", urgent=filters.urgent)
        return list(qs.values_list("id", flat=True)[start:stop])
    urgent = filters.urgent
    if urgent is None:
        urgent = tuple(e.value for e in taxonomy_get().priorities[-2:])
    db = router.db_for_read(Ticket)
    levels = json.dumps(calibration_levels(), sort_keys=True, default=str)
    sql, params = _work_order_sql(
        db=db, filters=filters, urgent=urgent, levels=levels, start=start, stop=stop
    )
    with connections[db].cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


@lru_cache(maxsize=512)
def _work_order_sql(
    *, db: str, filters: QueueFilters, urgent: tuple[str, ...], levels: str, start: int, stop: int
) -> tuple[str, tuple]:
    """The work order's SQL for one page: building and compiling the bands' UNION through the ORM
    costs a page ~3 ms of CPU, for the same few views asked again and again. It depends only on
    its arguments (`levels`: calibration_levels() as JSON), so a change to any of them compiles
    anew."""
    qs = review_queue_filtered(filters=filters)
    parts = [
        qs.filter(band)
        .annotate(band=Value(n, output_field=IntegerField()))
        .order_by("created_at", "id")
        .values_list("id", "band", "created_at")[:stop]
        for n, band in review_queue_bands(filters, urgent, levels_by_version=json.loads(levels))
    ]
    if len(parts) == 1:
        page = parts[0][start:stop]
    else:
        page = parts[0].union(*parts[1:], all=True).order_by("band", "created_at", "id")[start:stop]
    sql, params = page.query.get_compiler(using=db).as_sql()
    return sql, tuple(params)


def _ordered(qs: QuerySet[Ticket], sort: str, *, urgent: tuple[str, ...] | None) -> QuerySet[Ticket]:
    if sort == "newest":
        return qs.order_by("-created_at", "-id")
    if sort == "oldest":
        return qs.order_by("created_at", "id")
    if sort == "confidence":
        return qs.order_by(F("confidence").asc(nulls_first=True), "created_at", "id")
    if sort == "due":  # overdue first, then the soonest due; nothing due last (index ticket_sla_due)
        return qs.order_by(F("sla_due_at").asc(nulls_last=True), "id")
    if urgent is None:
        urgent = tuple(e.value for e in taxonomy_get().priorities[-2:])  # listed lowest to highest
    band = Case(
        When(
            status__in=list(_IN_PROGRESS_OR_DONE),
            then=Value(3),
        ),
        When(status=Ticket.Status.MANUAL_TRIAGE, then=Value(0)),
        When(priority__in=list(urgent), then=Value(0)),
        When(low_flag_q(), then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return qs.annotate(band=band).order_by("band", "created_at", "id")
