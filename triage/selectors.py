"""Reads. Querysets decide their joins here so views never trigger N+1 queries."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

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
    Sum,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone as dj_timezone

from triage.adapters.llm.base import Taxonomy, TaxonomyEntry
from triage.models import (
    REVIEWED_STATES,
    Attachment,
    InboundEmail,
    Rendition,
    ReviewDecision,
    TaxonomyField,
    TaxonomyValue,
    Ticket,
    TicketEvent,
    TriageRun,
)


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


# "work": what needs a person first (manual triage and the two highest priorities, then low
# confidence, then the rest; reviewed and in-progress tickets last), oldest first within a band.
QUEUE_SORTS = {
    "work": "Needs a human first",
    "newest": "Newest first",
    "oldest": "Oldest first",
    "confidence": "Lowest confidence first",
}
LOW_CONFIDENCE = 0.6


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
SELECT a.ticket_id FROM triage_renditiontext o
JOIN triage_rendition r ON r.id = o.rendition_id
JOIN triage_attachment a ON a.id = r.attachment_id
WHERE to_tsvector('simple'::regconfig, o.text) @@ websearch_to_tsquery('simple'::regconfig, %s)
"""


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
    page = paginator.get_page(number)
    start, stop = page.start_index() - 1 if page.paginator.count else 0, page.end_index()
    if filters.sort in QUEUE_SORTS and filters.sort != "work":
        ids = list(_ordered(bare, filters.sort, urgent=None).values_list("id", flat=True)[start:stop])
    elif filters.q.strip():
        # a search selects a few hundred tickets through its index: sorting their ids is cheap, and
        # a band-by-band walk of the created_at index would test the search on every ticket
        ids = list(_ordered(bare, "work", urgent=filters.urgent).values_list("id", flat=True)[start:stop])
    else:
        ids = _work_order_ids(bare, filters=filters, start=start, stop=stop)
    rows = {t.id: t for t in _with_files(Ticket.objects.filter(id__in=ids))}
    page.object_list = [rows[i] for i in ids if i in rows]
    return page


def review_queue_new_count(*, filters: QueueFilters, since_id: int) -> int:
    """Tickets matching `filters` created after the ticket `since_id` (the queue's live poll)."""
    return review_queue_filtered(filters=filters).filter(id__gt=since_id).count()


def ticket_newest_id() -> int:
    return Ticket.objects.order_by("-id").values_list("id", flat=True).first() or 0


# Reviewed in any lifecycle status (Open, Pending, Solved, Closed) is "done" for the review order.
_IN_PROGRESS_OR_DONE = (*REVIEWED_STATES, Ticket.Status.PROCESSING, Ticket.Status.TRIAGING)


def _work_bands(filters: QueueFilters, urgent: tuple[str, ...]) -> list[tuple[int, Q]]:
    """The work order's bands (see _ordered) as disjoint filters, first band first, without the
    bands the filters rule out: a band with no rows would walk the whole created_at index."""
    later = Q(status__in=_IN_PROGRESS_OR_DONE)
    first = ~later & (Q(status=Ticket.Status.MANUAL_TRIAGE) | Q(priority__in=list(urgent)))
    unsure = Q(confidence__lt=LOW_CONFIDENCE)
    bands = [
        (0, first, {Ticket.Status.MANUAL_TRIAGE, Ticket.Status.NEEDS_REVIEW}),
        (1, ~later & ~first & unsure, {Ticket.Status.NEEDS_REVIEW}),
        (2, ~later & ~first & ~unsure, {Ticket.Status.NEEDS_REVIEW}),
        (3, later, set(_IN_PROGRESS_OR_DONE)),
    ]
    confident_only = filters.confidence_below is not None and filters.confidence_below <= LOW_CONFIDENCE
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
        for n, band in _work_bands(filters, urgent)
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
    if urgent is None:
        urgent = tuple(e.value for e in taxonomy_get().priorities[-2:])  # listed lowest to highest
    band = Case(
        When(
            status__in=list(_IN_PROGRESS_OR_DONE),
            then=Value(3),
        ),
        When(status=Ticket.Status.MANUAL_TRIAGE, then=Value(0)),
        When(priority__in=list(urgent), then=Value(0)),
        When(confidence__lt=LOW_CONFIDENCE, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return qs.annotate(band=band).order_by("band", "created_at", "id")


def ticket_get_for_review(*, ticket_id: int) -> Ticket:
    return (
        Ticket.objects.select_related("latest_run", "created_by", "reviewed_by", "assignee", "duplicate_of")
        .prefetch_related(
            Prefetch(
                "attachments",
                queryset=Attachment.objects.prefetch_related(
                    Prefetch(
                        "renditions",
                        queryset=Rendition.objects.select_related("ocr").order_by("kind", "index"),
                    )
                ),
            ),
            "runs",
            "emails",
            Prefetch("decisions", queryset=ReviewDecision.objects.select_related("user")),
            Prefetch("events", queryset=TicketEvent.objects.select_related("user")),
        )
        .get(id=ticket_id)
    )


def ticket_status_counts() -> dict[str, int]:
    # COUNT(*), not COUNT(id): it can be answered from a (.., status) index alone, without reading
    # the table (at 100,000 tickets ~6x faster; every queue page shows these counts)
    rows = Ticket.objects.order_by().values("status").annotate(n=Count("*"))
    return {row["status"]: row["n"] for row in rows}


def taxonomy_get() -> Taxonomy:
    rows = TaxonomyValue.objects.filter(is_active=True).order_by("field", "position", "value")
    grouped: dict[str, list[TaxonomyEntry]] = {f.value: [] for f in TaxonomyField}
    for row in rows:
        grouped[row.field].append(
            TaxonomyEntry(
                value=row.value,
                label=row.label,
                description=row.description,
                examples=tuple(line.strip() for line in row.examples.splitlines() if line.strip()),
            )
        )
    return Taxonomy(
        categories=tuple(grouped[TaxonomyField.CATEGORY]),
        priorities=tuple(grouped[TaxonomyField.PRIORITY]),
        queues=tuple(grouped[TaxonomyField.QUEUE]),
        sentiments=tuple(grouped[TaxonomyField.SENTIMENT]),
    )


def taxonomy_choices(*, field: str) -> list[tuple[str, str]]:
    return list(
        TaxonomyValue.objects.filter(field=field, is_active=True)
        .order_by("position", "value")
        .values_list("value", "label")
    )


def taxonomy_labels() -> dict[str, dict[str, str]]:
    labels: dict[str, dict[str, str]] = {f.value: {} for f in TaxonomyField}
    for field, value, label in TaxonomyValue.objects.values_list("field", "value", "label"):
        labels[field][value] = label
    return labels


_WORD = re.compile(r"\w{3,}", re.UNICODE)
_SIMILAR_CANDIDATES = 1000


def ticket_similar_list(*, query: str, exclude_id: int | None = None, limit: int = 5) -> list[Ticket]:
    """Earlier tickets sharing the most words (3+ letters) with `query`, best first.

    Scores the newest _SIMILAR_CANDIDATES tickets in Python: the same on SQLite and Postgres, and
    bounded however large the history grows. Words are weighted by rarity among the candidates,
    so "error" counts for less than "ERR_PAYMENT_DECLINED".
    """
    words = {w.lower() for w in _WORD.findall(query)}
    if not words:
        return []
    others = Ticket.objects.all() if exclude_id is None else Ticket.objects.exclude(pk=exclude_id)
    candidates = list(others.order_by("-created_at", "-id")[:_SIMILAR_CANDIDATES])
    bags = [
        {w.lower() for w in _WORD.findall(f"{t.subject} {t.description} {t.summary}")} for t in candidates
    ]
    frequency = {w: sum(1 for bag in bags if w in bag) for w in words}
    scored = []
    for ticket, bag in zip(candidates, bags, strict=True):
        score = sum(1.0 / frequency[w] for w in words & bag)
        if score > 0:
            scored.append((score, ticket.created_at, ticket))
    scored.sort(key=lambda item: (-item[0], -item[1].timestamp()))
    return [ticket for _, _, ticket in scored[:limit]]


def requester_ticket_list(*, email: str, exclude_id: int | None = None, limit: int = 5) -> list[Ticket]:
    tickets = Ticket.objects.filter(requester_email__iexact=email)
    if exclude_id is not None:
        tickets = tickets.exclude(pk=exclude_id)
    return list(tickets.order_by("-created_at", "-id")[:limit])


def tickets_by_reference(*, references: Sequence[str]) -> list[Ticket]:
    """Tickets named as "TRI-<id>", in the order given; unknown references are skipped."""
    ids = [int(r[4:]) for r in references if re.fullmatch(r"TRI-\d{1,12}", r)]
    found = {t.id: t for t in Ticket.objects.filter(id__in=ids)}
    return [found[i] for i in ids if i in found]


def assignee_list() -> QuerySet:
    """The people a ticket can be assigned to: active users, by name."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(is_active=True).order_by("first_name", "last_name", "username")


def email_quarantine_list(*, limit: int = 200) -> QuerySet[InboundEmail]:
    """Inbound mail that could not be read, newest first."""
    return (
        InboundEmail.objects.filter(status=InboundEmail.Status.QUARANTINED)
        .select_related("ticket")
        .order_by("-received_at", "-id")[:limit]
    )


# --- cost (services/costs.py computes; these sum) ------------------------------------------------


def utc_day_bounds(day: dt.date | None = None) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a UTC day: the spend cap resets at midnight UTC whatever TIME_ZONE says."""
    day = day or dj_timezone.now().astimezone(dt.UTC).date()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)


def ticket_cost_usd(*, ticket_id: int) -> Decimal:
    total = TriageRun.objects.filter(ticket_id=ticket_id).aggregate(total=Sum("cost_usd"))["total"]
    return total or Decimal("0")


@dataclass(frozen=True)
class RunStats:
    runs: int
    cost_usd: Decimal
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int


def daily_run_stats(*, day: dt.date | None = None, provider: str | None = None) -> RunStats:
    """Runs started on a UTC day: how many, their cost and tokens (optionally one provider's)."""
    start, end = utc_day_bounds(day)
    qs = TriageRun.objects.filter(started_at__gte=start, started_at__lt=end)
    if provider:
        qs = qs.filter(provider=provider)
    row = qs.aggregate(
        runs=Count("id"),
        cost_usd=Sum("cost_usd"),
        prompt_tokens=Sum("prompt_tokens"),
        cached_tokens=Sum("cached_tokens"),
        completion_tokens=Sum("completion_tokens"),
    )
    return RunStats(
        runs=row["runs"] or 0,
        cost_usd=row["cost_usd"] or Decimal("0"),
        prompt_tokens=row["prompt_tokens"] or 0,
        cached_tokens=row["cached_tokens"] or 0,
        completion_tokens=row["completion_tokens"] or 0,
    )


def daily_cost_usd(*, day: dt.date | None = None, provider: str | None = None) -> Decimal:
    return daily_run_stats(day=day, provider=provider).cost_usd


# --- Browser uploads: each attachment's stage on the ticket page ------------------------------
# Derived, not recorded: the status, the kind, the OCR rows and the ticket's status already say
# where an attachment is, so the workers write nothing more (no extra round trip in any loop) and
# a redelivered job cannot leave a stale stage behind.

_STEP_LABELS = {
    "uploaded": "Uploaded",
    "normalizing": "Normalizing",
    "sampling": "Sampling frames",
    "reading": "Reading text",
    "triaging": "Triaging",
    "done": "Done",
}


def _ocr_pending(attachment: Attachment) -> bool:
    for rendition in attachment.renditions.all():  # prefetched with their OCR row
        if rendition.kind in (Rendition.Kind.IMAGE, Rendition.Kind.FRAME):
            try:
                rendition.ocr  # noqa: B018 (the access is the check)
            except Rendition.ocr.RelatedObjectDoesNotExist:
                return True
    return False


def attachment_stage(*, attachment: Attachment, ticket_status: str, ocr_enabled: bool) -> dict:
    """Where one attachment is: `key`, `label`, `terminal`, and the `steps` of its way
    (uploaded → normalizing or sampling frames → reading text → triaging → done), each
    `done`, `current`, `failed` or `todo`."""
    media_step = "normalizing" if attachment.kind == Attachment.Kind.IMAGE else "sampling"
    keys = ["uploaded", media_step, *(["reading"] if ocr_enabled else []), "triaging", "done"]
    status = attachment.status
    if status in (Attachment.Status.REJECTED, Attachment.Status.FAILED):
        key, label, failed = status.lower(), attachment.get_status_display(), True
        current = media_step
    else:
        failed = False
        if status == Attachment.Status.QUEUED:
            current = key = "uploaded"
        elif status == Attachment.Status.PROCESSING:
            current = key = media_step
        elif ticket_status == Ticket.Status.PROCESSING:
            if ocr_enabled and _ocr_pending(attachment):
                current = key = "reading"
            else:  # this one is ready; another attachment of the ticket is not
                current, key = "triaging", "waiting"
        elif ticket_status == Ticket.Status.TRIAGING:
            current = key = "triaging"
        else:
            current = key = "done"
        label = "Waiting for the other files" if key == "waiting" else _STEP_LABELS[key]
    position = keys.index(current)
    steps = []
    for i, step in enumerate(keys):
        if i < position or (step == "done" and key == "done"):
            state = "done"
        elif i == position:
            state = "failed" if failed else "current"
        else:
            state = "todo"
        if failed and i > position:
            continue  # a refused file goes no further
        steps.append({"key": step, "label": _STEP_LABELS[step], "state": state})
    return {"key": key, "label": label, "terminal": failed or key == "done", "steps": steps}


def attachment_stages(*, ticket: Ticket, ocr_enabled: bool) -> dict[int, dict]:
    """attachment_stage of each attachment of a ticket from ticket_get_for_review (no query)."""
    return {
        a.id: attachment_stage(attachment=a, ticket_status=ticket.status, ocr_enabled=ocr_enabled)
        for a in ticket.attachments.all()
    }
