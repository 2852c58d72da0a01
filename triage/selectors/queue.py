"""The review queue: filters, search, the work order and its pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from triage.models import (
    REVIEWED_STATES,
    Attachment,
    Rendition,
    Ticket,
)
from triage.selectors.calibration import LOW_CONFIDENCE, low_flag, low_flag_q
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
    """The queue's rows, in the order asked for, each with its file counts and first thumbnails.

    The file counts are correlated subqueries, not a JOIN + GROUP BY over every matching ticket:
    PostgreSQL evaluates them only for the rows it returns. The page itself is cut by
    review_queue_page, which sorts ids only."""
    filters = filters or QueueFilters(statuses=tuple(statuses))
    return _ordered(_with_files(review_queue_filtered(filters=filters)), filters.sort, urgent=filters.urgent)


def _with_files(qs: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """A queue row's extras: its latest run, file counts and first thumbnails."""
    qs = qs.select_related("latest_run").annotate(
        attachment_count=_attachment_count(),
        rejected_count=_attachment_count(status__in=[Attachment.Status.REJECTED, Attachment.Status.FAILED]),
    )
    # the first few attachments' thumbnails, for the list (two queries per page, not per row)
    qs = qs.prefetch_related(
        Prefetch(
            "attachments",
            queryset=Attachment.objects.filter(status=Attachment.Status.DONE)
            .order_by("id")
            .prefetch_related(
                Prefetch(
                    "renditions",
                    queryset=Rendition.objects.filter(kind=Rendition.Kind.THUMB),
                    to_attr="thumbs",
                )
            ),
            to_attr="thumb_attachments",
        )
    )
    return qs


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


def _attachment_count(**where: object) -> Coalesce:
    counted = (
        Attachment.objects.filter(ticket=OuterRef("pk"), **where)
        .order_by()
        .values("ticket")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


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
    the page's ids from bare, narrow rows, then those rows in full (file counts, thumbnails).

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
        ids = _work_order_ids(bare, filters=filters, start=start, stop=stop)
    rows = {t.id: t for t in _with_files(Ticket.objects.filter(id__in=ids))}
    page.object_list = [rows[i] for i in ids if i in rows]
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


def review_queue_bands(filters: QueueFilters, urgent: tuple[str, ...]) -> list[tuple[int, Q]]:
    """The work order's bands (see _ordered) as disjoint filters, first band first, without the
    bands the filters rule out: a band with no rows would walk the whole created_at index."""
    later = Q(status__in=_IN_PROGRESS_OR_DONE)
    first = ~later & (Q(status=Ticket.Status.MANUAL_TRIAGE) | Q(priority__in=list(urgent)))
    # the LOW badge's own test (calibrated per field where a trained version has levels), so the
    # "low confidence" band holds exactly the tickets the queue flags LOW
    unsure, calibrated = low_flag()
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
    return [
        (n, band)
        for n, band, statuses in bands
        if (not filters.statuses or statuses & set(filters.statuses)) and not (n == 2 and confident_only)
    ]


def _work_order_ids(qs: QuerySet[Ticket], *, filters: QueueFilters, start: int, stop: int) -> list[int]:
    if stop <= start:
        return []
    if not connection.features.supports_slicing_ordering_in_compound:  # SQLite: one sort, small data
        return list(_ordered(qs, "work", urgent=filters.urgent).values_list("id", flat=True)[start:stop])
    urgent = filters.urgent
    if urgent is None:
        urgent = tuple(e.value for e in taxonomy_get().priorities[-2:])
    parts = [
        qs.filter(band)
        .annotate(band=Value(n, output_field=IntegerField()))
        .order_by("created_at", "id")
        .values_list("id", "band", "created_at")[:stop]
        for n, band in review_queue_bands(filters, urgent)
    ]
    if len(parts) == 1:
        return [row[0] for row in parts[0][start:stop]]
    merged = parts[0].union(*parts[1:], all=True).order_by("band", "created_at", "id")
    return [row[0] for row in merged[start:stop]]


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
