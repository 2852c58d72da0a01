"""Reads for the manager reports: the filtered tickets, one export row per ticket, dashboard numbers.

Every number is about the tickets *created* in the filter's date range (and matching its queue,
channel and category), so the dashboard, the exports and the weekly email always agree.
"""

from __future__ import annotations

import json
import re
import tempfile
import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import IO, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    ExpressionWrapper,
    F,
    FloatField,
    Max,
    Min,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import TruncDate
from django.utils import timezone

from triage.adapters.export import CLASSIFIED_FIELDS, TICKET_COLUMNS, neutralize, neutralize_sql
from triage.models import REVIEWED_STATES, Attachment, ReviewDecision, Ticket, TriageRun


@dataclass(frozen=True)
class ReportFilters:
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    queue: str = ""
    channel: str = ""
    category: str = ""

    def as_dict(self) -> dict[str, str]:
        """JSON-safe, for a task argument or a ReportExport row."""
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(self).items() if v}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReportFilters:
        def day(key: str) -> date | None:
            return date.fromisoformat(data[key]) if data.get(key) else None

        return cls(
            date_from=day("date_from"),
            date_to=day("date_to"),
            queue=data.get("queue", ""),
            channel=data.get("channel", ""),
            category=data.get("category", ""),
        )


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _ticket_lookups(filters: ReportFilters, prefix: str = "") -> dict[str, Any]:
    """The filter as ORM lookups on a ticket, or through a relation to one (prefix "ticket__"),
    so the runs and decisions of the filtered tickets are a join, not an IN (subquery)."""
    lookups: dict[str, Any] = {}
    if filters.date_from:
        lookups[f"{prefix}created_at__gte"] = _day_start(filters.date_from)
    if filters.date_to:
        lookups[f"{prefix}created_at__lt"] = _day_start(filters.date_to + timedelta(days=1))
    for name in ("queue", "channel", "category"):
        if getattr(filters, name):
            lookups[f"{prefix}{name}"] = getattr(filters, name)
    return lookups


def report_ticket_list(*, filters: ReportFilters) -> QuerySet[Ticket]:
    return Ticket.objects.filter(**_ticket_lookups(filters))


def report_ticket_count(*, filters: ReportFilters) -> int:
    return report_ticket_list(filters=filters).count()


# --- cost -----------------------------------------------------------------------------------


def _prices() -> dict[str, dict[str, float]]:
    return settings.TRIAGE_PRICES


def run_cost_expression() -> Case:
    """USD of one TriageRun, in SQL. Cached prompt tokens are part of prompt_tokens (OpenAI-style
    usage), billed at the cache-hit price; the local provider is free."""
    whens = [When(provider="local", then=Value(0.0))]
    for model, p in _prices().items():
        usd = ExpressionWrapper(
            (
                (F("prompt_tokens") - F("cached_tokens")) * Value(float(p["input"]))
                + F("cached_tokens") * Value(float(p["cached_input"]))
                + F("completion_tokens") * Value(float(p["output"]))
            )
            / Value(1_000_000.0),
            output_field=FloatField(),
        )
        whens.append(When(model=model, then=usd))
    return Case(*whens, default=Value(0.0), output_field=FloatField())


def _run_cost_sql() -> tuple[str, list[float | str]]:
    parts: list[str] = ["CASE WHEN provider = 'local' THEN 0.0"]
    params: list[float | str] = []
    for model, p in _prices().items():
        parts.append(
            "WHEN model = %s THEN ((prompt_tokens - cached_tokens) * %s + cached_tokens * %s"
            " + completion_tokens * %s) / 1000000.0"
        )
        params += [model, float(p["input"]), float(p["cached_input"]), float(p["output"])]
    parts.append("ELSE 0.0 END")
    return " ".join(parts), params


# --- export rows ------------------------------------------------------------------------------


def _epoch_sql(column: str) -> str:
    """Timestamps travel as UTC epoch seconds: Django's timestamptz loader for psycopg is pure
    Python (~20 us a value); a float8 and datetime.fromtimestamp cost ~1 us, which is most of the
    difference between 30K and 60K rows/s on a million-row CSV."""
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM {column})::float8"
    return f"(julianday({column}) - 2440587.5) * 86400.0"


def _utc(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def _export_sql(filters: ReportFilters, lo: int, hi: int) -> tuple[str, list[Any]]:
    """One statement per block of ticket ids [lo, hi]: the tickets, their latest run, per-ticket run
    totals and attachment counts, each an index range scan over the block.

    Correlated subqueries per row (what the ORM writes for annotations) cost ~8 index probes per
    ticket; aggregating the block's runs and attachments once is one range scan per table.
    """
    ticket, run, att = Ticket._meta.db_table, TriageRun._meta.db_table, Attachment._meta.db_table
    user = get_user_model()._meta.db_table
    cost_sql, cost_params = _run_cost_sql()
    epoch = _epoch_sql
    id_filter, ticket_filter, id_params = "", "", []
    qs = report_ticket_list(filters=filters)
    if qs.query.where:
        ids_sql, id_params_t = qs.values("id").query.sql_with_params()
        id_filter, id_params = f"AND ticket_id IN ({ids_sql})", list(id_params_t)
        ticket_filter = f"AND t.id IN ({ids_sql})"
    # S608: only table names from model meta and the ORM's own compiled SQL are interpolated;
    # every value travels as a parameter.
    sql = f"""
        SELECT t.id, {epoch("t.created_at")}, t.channel, t.status, t.requester_email, t.subject, t.summary,
               t.category, t.priority, t.queue, t.sentiment, t.language, t.confidence,
               {epoch("t.triaged_at")}, {epoch("t.reviewed_at")}, {epoch("t.updated_at")}, u.username,
               lr.provider, lr.model, lr.result, lr.error_kind,
               r.runs, r.failed_runs, r.prompt_tokens, r.cached_tokens, r.completion_tokens, r.cost,
               a.attachments, a.images, a.videos, a.rejected
        FROM {ticket} t
        LEFT JOIN {run} lr ON lr.id = t.latest_run_id
        LEFT JOIN {user} u ON u.id = t.reviewed_by_id
        LEFT JOIN (
            SELECT ticket_id, COUNT(*) AS runs,
                   SUM(CASE WHEN status = 'FAILED' THEN 1 ELSE 0 END) AS failed_runs,
                   SUM(prompt_tokens) AS prompt_tokens, SUM(cached_tokens) AS cached_tokens,
                   SUM(completion_tokens) AS completion_tokens, SUM({cost_sql}) AS cost
            FROM {run} WHERE ticket_id BETWEEN %s AND %s {id_filter} GROUP BY ticket_id
        ) r ON r.ticket_id = t.id
        LEFT JOIN (
            SELECT ticket_id, COUNT(*) AS attachments,
                   SUM(CASE WHEN kind = 'IMAGE' THEN 1 ELSE 0 END) AS images,
                   SUM(CASE WHEN kind = 'VIDEO' THEN 1 ELSE 0 END) AS videos,
                   SUM(CASE WHEN status IN ('REJECTED', 'FAILED') THEN 1 ELSE 0 END) AS rejected
            FROM {att} WHERE ticket_id BETWEEN %s AND %s {id_filter} GROUP BY ticket_id
        ) a ON a.ticket_id = t.id
        WHERE t.id BETWEEN %s AND %s {ticket_filter}
        ORDER BY t.id
    """  # noqa: S608
    block = [lo, hi]
    params = cost_params + block + id_params + block + id_params + block + id_params
    return sql, params


def report_ticket_rows(*, filters: ReportFilters, chunk_size: int = 5000) -> Iterator[tuple]:
    """Yield one tuple per ticket in `TICKET_COLUMNS` order, holding at most `chunk_size` rows.

    Keyset blocks (ids lo..hi, one short autocommit query each) rather than one server-side
    cursor: no transaction stays open for the minutes a million rows take, so the worker's
    progress updates are visible to the page meanwhile, and memory stays flat at any row count.
    """
    qs = report_ticket_list(filters=filters).order_by("id").values_list("id", flat=True)
    base = settings.TRIAGE_PUBLIC_URL.rstrip("/")
    reviewed = frozenset(s.value for s in REVIEWED_STATES)
    lo = qs.first()
    while lo is not None:
        hi = qs.filter(id__gte=lo)[chunk_size - 1 : chunk_size].first() or qs.last() or lo
        sql, params = _export_sql(filters, lo, hi)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            chunk = cursor.fetchall()
        for row in chunk:
            yield _export_row(row, base, reviewed)
        lo = qs.filter(id__gt=hi).first()


def _export_row(row: tuple, base: str, reviewed_status: frozenset[str]) -> tuple:
    (
        tid, created, channel, status, email, subject, summary,
        cat, pri, que, sen, lang, conf, triaged, reviewed, updated, reviewer,
        provider, model, result, error_kind,
        runs, failed_runs, prompt, cached, completion, cost,
        attachments, images, videos, rejected,
    ) = row  # fmt: skip
    created, triaged, reviewed, updated = _utc(created), _utc(triaged), _utc(reviewed), _utc(updated)
    if isinstance(result, str):  # SQLite hands JSON back as text
        result = json.loads(result)
    result = result or {}
    is_reviewed = status in reviewed_status
    out: list[Any] = [
        tid,
        f"TRI-{tid}",
        f"{base}/tickets/{tid}/",
        created,
        channel,
        status,
        email,
        subject,
        summary,
    ]
    corrected = 0
    for name, current in zip(CLASSIFIED_FIELDS, (cat, pri, que, sen, lang), strict=True):
        proposal = result.get(name) or {}
        proposed = proposal.get("value", "")
        final = current if is_reviewed else ""
        if is_reviewed and proposed and final != proposed:
            corrected += 1
        out += [proposed, proposal.get("confidence"), final]
    out += [
        corrected if is_reviewed and result else None,
        conf,
        reviewer or "",
        triaged,
        reviewed,
        updated,
        (triaged - created).total_seconds() if triaged and created else None,
        (reviewed - triaged).total_seconds() if reviewed and triaged else None,
        provider or "",
        model or "",
        error_kind or "",
        runs or 0,
        failed_runs or 0,
        prompt or 0,
        cached or 0,
        completion or 0,
        float(cost or 0.0),
        attachments or 0,
        images or 0,
        videos or 0,
        rejected or 0,
    ]
    return tuple(out)


def _pg_csv_columns(base: str) -> tuple[str, str, list[Any]]:
    """The export row of `_export_row`, column for column, as PostgreSQL expressions rendered the
    way `csv_stream` renders them (neutralized text, UTC timestamps to the second, rounded seconds,
    six-decimal USD, NULL for empty). tests/services/test_reports.py checks the two agree.

    Returns (inner, outer): the inner select reads each value once (one jsonb lookup per proposed
    field), the outer one formats; OFFSET 0 below keeps PostgreSQL from inlining the inner into the
    outer, which would repeat each lookup for every use (24 us a row instead of ~8)."""

    def text(col: str) -> str:
        return f"COALESCE({neutralize_sql(col)}, '')"

    def stamp(col: str) -> str:
        # timestamp output is C; to_char() costs twice as much. The session time zone does not
        # matter: AT TIME ZONE 'UTC' yields a plain timestamp.
        return f"date_trunc('second', {col} AT TIME ZONE 'UTC')::text"

    inner = [
        "t.id",
        "t.created_at",
        "t.channel",
        "t.status",
        "t.requester_email",
        "t.subject",
        "t.summary",
        "t.confidence",
        "t.triaged_at",
        "t.reviewed_at",
        "t.updated_at",
        "u.username AS reviewer",
        "lr.provider",
        "lr.model",
        "lr.error_kind AS failure_kind",
        "(lr.result IS NOT NULL AND lr.result <> '{}'::jsonb) AS has_result",
        "t.status IN ('REVIEWED', 'PENDING', 'SOLVED', 'CLOSED') AS is_reviewed",
        "r.runs",
        "r.failed_runs",
        "r.prompt_tokens",
        "r.cached_tokens",
        "r.completion_tokens",
        "r.cost",
        "a.attachments",
        "a.images",
        "a.videos",
        "a.rejected",
    ]
    for n in CLASSIFIED_FIELDS:
        inner += [
            f"t.{n} AS cur_{n}",
            f"COALESCE(lr.result -> '{n}' ->> 'value', '') AS p_{n}",
            f"(lr.result -> '{n}' ->> 'confidence')::float8 AS c_{n}",
        ]
    corrected = " + ".join(
        f"(CASE WHEN p_{n} <> '' AND cur_{n} <> p_{n} THEN 1 ELSE 0 END)" for n in CLASSIFIED_FIELDS
    )
    exprs: dict[str, str] = {
        "id": "id",
        "reference": "'TRI-' || id",
        "url": "%s || '/tickets/' || id || '/'",
        "created_at": "created_at",
        "channel": "channel",
        "status": "status",
        "requester_email": "requester_email",
        "subject": "subject",
        "summary": "summary",
        "fields_corrected": f"CASE WHEN is_reviewed AND has_result THEN {corrected} END",
        "confidence": "confidence",
        "reviewer": "reviewer",
        "triaged_at": "triaged_at",
        "reviewed_at": "reviewed_at",
        "updated_at": "updated_at",
        "arrival_to_triaged_s": "EXTRACT(EPOCH FROM triaged_at - created_at)::float8",
        "triaged_to_reviewed_s": "EXTRACT(EPOCH FROM reviewed_at - triaged_at)::float8",
        "provider": "provider",
        "model": "model",
        "failure_kind": "failure_kind",
        "runs": "COALESCE(runs, 0)",
        "failed_runs": "COALESCE(failed_runs, 0)",
        "prompt_tokens": "COALESCE(prompt_tokens, 0)",
        "cached_tokens": "COALESCE(cached_tokens, 0)",
        "completion_tokens": "COALESCE(completion_tokens, 0)",
        "cost_usd": "COALESCE(cost, 0)",
        "attachments": "COALESCE(attachments, 0)",
        "images": "COALESCE(images, 0)",
        "videos": "COALESCE(videos, 0)",
        "rejected_attachments": "COALESCE(rejected, 0)",
    }
    for n in CLASSIFIED_FIELDS:
        exprs[f"proposed_{n}"] = f"p_{n}"
        exprs[f"confidence_{n}"] = f"c_{n}"
        exprs[f"final_{n}"] = f"CASE WHEN is_reviewed THEN cur_{n} ELSE '' END"
    # csv_writer's dialect: text, timestamps and amounts quoted (FORCE_QUOTE in _copy_sql), numbers
    # bare, an empty cell "" (a non-NULL '' is quoted by COPY as it matches the NULL string).
    outer = []
    for i, column in enumerate(TICKET_COLUMNS):
        expr = exprs[column.key]
        if column.key in ("reference", "url"):
            pass  # never empty; the url's only user part is the (already neutralized) base
        elif column.kind == "text":
            expr = text(expr)
        elif column.kind == "datetime":
            expr = f"COALESCE({stamp(expr)}, '')"
        elif column.kind == "seconds":
            expr = f"COALESCE(round({expr})::text, '')"
        elif column.kind == "usd":
            expr = f"COALESCE(to_char({expr}, 'FM999999990.000000'), '')"
        else:
            expr = f"COALESCE(({expr})::text, '')"
        outer.append(f"{expr} AS c{i}")
    sep = ",\n               "
    return sep.join(inner), sep.join(outer), [neutralize(base)]


_QUOTED_KINDS = ("text", "datetime", "usd")  # what csv_writer gets as str


def report_ticket_csv_copy(
    *,
    filters: ReportFilters,
    block_bytes: int = 64 * 1024,
    streams: int = 1,
    min_ids_per_stream: int = 100_000,
    spool_bytes: int = 1024 * 1024,
) -> Iterator[bytes] | None:
    """The CSV rows (no header) written by PostgreSQL itself through COPY ... TO STDOUT: several
    times the rows/s of rendering them in Python, in blocks of about `block_bytes`, each statement
    streamed by the server so memory stays flat. None on other databases.

    With `streams` > 1 the ticket ids are cut into that many ranges, each copied by its own
    connection in a thread at the same time (one COPY keeps one server core busy; psycopg releases
    the GIL while it waits). The first range streams straight to the caller, the later ones into
    temporary files that stay in memory up to `spool_bytes`, appended in order: the output is
    byte for byte the one-stream output. Every stream reads the same snapshot
    (pg_export_snapshot), so rows changing meanwhile cannot appear in one range and not another.
    One stream is used inside a caller's transaction (other connections could not see its
    uncommitted rows) and when the ids span less than `min_ids_per_stream` per stream."""
    if connection.vendor != "postgresql":
        return None
    if streams > 1 and not connection.in_atomic_block:
        bounds = _id_ranges(filters, streams, min_ids_per_stream)
        if len(bounds) > 1:
            return _parallel_copy_blocks(filters, bounds, block_bytes, spool_bytes)
    return _copy_blocks(filters, block_bytes)


def _id_ranges(filters: ReportFilters, streams: int, min_ids_per_stream: int) -> list[tuple[int, int]]:
    """Up to `streams` contiguous id ranges covering the filtered tickets, of equal id span."""
    span = report_ticket_list(filters=filters).aggregate(lo=Min("id"), hi=Max("id"))
    lo, hi = span["lo"], span["hi"]
    if lo is None:
        return []
    n = max(1, min(streams, (hi - lo + 1) // max(1, min_ids_per_stream)))
    step = (hi - lo + 1) // n
    starts = [lo + i * step for i in range(n)]
    return [(a, (starts[i + 1] - 1) if i + 1 < n else hi) for i, a in enumerate(starts)]


def _copy_sql(filters: ReportFilters, id_range: tuple[int, int] | None) -> tuple[str, list[Any]]:
    ticket, run, att = Ticket._meta.db_table, TriageRun._meta.db_table, Attachment._meta.db_table
    user = get_user_model()._meta.db_table
    inner, outer, outer_params = _pg_csv_columns(settings.TRIAGE_PUBLIC_URL.rstrip("/"))
    cost_sql, cost_params = _run_cost_sql()
    sub_where: list[str] = []
    ticket_where: list[str] = []
    sub_params: list[Any] = []
    ticket_params: list[Any] = []
    if id_range is not None:
        # the range bounds each aggregate too, so every stream reads only its share of the runs
        # and attachments (an index range scan on ticket_id), not the whole tables
        sub_where.append("ticket_id BETWEEN %s AND %s")
        ticket_where.append("t.id BETWEEN %s AND %s")
        sub_params += list(id_range)
        ticket_params += list(id_range)
    source, source_params = ticket, []
    qs = report_ticket_list(filters=filters).order_by()  # no sort in a subquery
    if qs.query.where:
        # the tickets are the filtered queryset itself (PostgreSQL pulls the subquery up, so the
        # filter reads an index on t); the aggregates keep the ticket ids that pass it
        ticket_sql, ticket_sql_params = qs.query.sql_with_params()
        source, source_params = f"({ticket_sql})", list(ticket_sql_params)
        ids_sql, id_params = qs.values("id").query.sql_with_params()
        sub_where.append(f"ticket_id IN ({ids_sql})")
        sub_params += list(id_params)
    quoted = ", ".join(f"c{i}" for i, c in enumerate(TICKET_COLUMNS) if c.kind in _QUOTED_KINDS)
    sub_filter = ("WHERE " + " AND ".join(sub_where)) if sub_where else ""
    ticket_filter = ("WHERE " + " AND ".join(ticket_where)) if ticket_where else ""
    sql = f"""
        COPY (
        SELECT {outer} FROM (
        SELECT {inner}
        FROM {source} t
        LEFT JOIN {run} lr ON lr.id = t.latest_run_id
        LEFT JOIN {user} u ON u.id = t.reviewed_by_id
        LEFT JOIN (
            SELECT ticket_id, COUNT(*) AS runs,
                   SUM(CASE WHEN status = 'FAILED' THEN 1 ELSE 0 END) AS failed_runs,
                   SUM(prompt_tokens) AS prompt_tokens, SUM(cached_tokens) AS cached_tokens,
                   SUM(completion_tokens) AS completion_tokens, SUM({cost_sql})::float8 AS cost
            FROM {run} {sub_filter} GROUP BY ticket_id
        ) r ON r.ticket_id = t.id
        LEFT JOIN (
            SELECT ticket_id, COUNT(*) AS attachments,
                   SUM(CASE WHEN kind = 'IMAGE' THEN 1 ELSE 0 END) AS images,
                   SUM(CASE WHEN kind = 'VIDEO' THEN 1 ELSE 0 END) AS videos,
                   SUM(CASE WHEN status IN ('REJECTED', 'FAILED') THEN 1 ELSE 0 END) AS rejected
            FROM {att} {sub_filter} GROUP BY ticket_id
        ) a ON a.ticket_id = t.id
        {ticket_filter}
        ORDER BY t.id
        OFFSET 0
        ) x ORDER BY id
        ) TO STDOUT WITH (FORMAT csv, FORCE_QUOTE ({quoted}))
    """  # noqa: S608 - table names from model meta and the ORM's compiled SQL; values are parameters
    return sql, outer_params + source_params + cost_params + sub_params + sub_params + ticket_params


def _plan_for_streaming(cursor: Any, filters: ReportFilters) -> None:
    # Measured on 1M tickets: JIT compiled this wide projection for 15 s before the first row,
    # and parallel workers each re-ran the whole run aggregation; an ordered plan of index
    # scans and merge joins streams from the first row with no sort.
    cursor.execute("SET LOCAL jit = off")
    cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
    if not report_ticket_list(filters=filters).query.where:
        # For an id range of all tickets (a parallel stream) the planner's estimate prefers seq
        # scans, a hash join and a 350 MB external sort of the range (12.4 s for 500K rows);
        # without hash joins and sorts it keeps the ordered plan (9.5 s). A filtered export
        # needs its hash semi-joins, so there the planner chooses.
        cursor.execute("SET LOCAL enable_hashjoin = off")
        cursor.execute("SET LOCAL enable_sort = off")


def _copy_stream(
    cursor: Any, sql: str, params: list[Any], block_bytes: int, stop: threading.Event | None = None
) -> Iterator[bytes]:
    with cursor.cursor.copy(sql, params) as copy:
        pending: list[bytes] = []
        size = 0
        for data in copy:
            pending.append(bytes(data))
            size += len(data)
            if size >= block_bytes:
                if stop is not None and stop.is_set():
                    raise _Stopped
                yield b"".join(pending)
                pending, size = [], 0
        if pending:
            yield b"".join(pending)


def _copy_blocks(filters: ReportFilters, block_bytes: int) -> Iterator[bytes]:
    sql, params = _copy_sql(filters, None)
    with transaction.atomic(), connection.cursor() as cursor:
        _plan_for_streaming(cursor, filters)
        yield from _copy_stream(cursor, sql, params, block_bytes)


class _Stopped(Exception):
    """The consumer went away (a closed download): a helper stream stops early."""


_SNAPSHOT_ID = re.compile(r"^[0-9A-F]+-[0-9A-F]+-[0-9]+$")


def _parallel_copy_blocks(
    filters: ReportFilters, bounds: list[tuple[int, int]], block_bytes: int, spool_bytes: int
) -> Iterator[bytes]:
    stop = threading.Event()
    with ExitStack() as files:
        spools = [
            files.enter_context(tempfile.SpooledTemporaryFile(max_size=spool_bytes)) for _ in bounds[1:]
        ]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            _plan_for_streaming(cursor, filters)
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            with ThreadPoolExecutor(max_workers=len(spools), thread_name_prefix="report-copy") as pool:
                futures = [
                    pool.submit(_copy_range_to, spool, filters, rng, snapshot, block_bytes, stop)
                    for spool, rng in zip(spools, bounds[1:], strict=True)
                ]
                try:
                    sql, params = _copy_sql(filters, bounds[0])
                    yield from _copy_stream(cursor, sql, params, block_bytes)
                    for future, spool in zip(futures, spools, strict=True):
                        future.result()
                        spool.seek(0)
                        while block := spool.read(block_bytes):
                            yield block
                        spool.close()  # frees its memory or disk before the next range
                finally:
                    stop.set()  # a consumer that stops early (or an error) ends the helpers


def _copy_range_to(
    spool: IO[bytes],
    filters: ReportFilters,
    id_range: tuple[int, int],
    snapshot: str,
    block_bytes: int,
    stop: threading.Event,
) -> None:
    """One helper stream, on this thread's own connection, in the leader's snapshot."""
    if not _SNAPSHOT_ID.match(snapshot):
        raise ValueError(f"unexpected snapshot id {snapshot!r}")
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            _plan_for_streaming(cursor, filters)
            sql, params = _copy_sql(filters, id_range)
            for block in _copy_stream(cursor, sql, params, block_bytes, stop):
                spool.write(block)
    except _Stopped:
        return
    finally:
        connection.close()  # this thread's connection; the pool's threads end with the export


# --- dashboard --------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL's percentile_cont, numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@dataclass
class Dashboard:
    days: list[date] = field(default_factory=list)
    tickets: int = 0
    volume_by_category: dict[str, dict[date, int]] = field(default_factory=dict)
    volume_by_channel: dict[str, dict[date, int]] = field(default_factory=dict)
    priority_mix: list[tuple[str, int]] = field(default_factory=list)
    durations: dict[str, dict[str, float | int | None]] = field(default_factory=dict)
    review_by_field: dict[str, dict[str, int]] = field(default_factory=dict)
    review_by_day: dict[date, dict[str, int]] = field(default_factory=dict)
    category_matrix: dict[str, dict[str, int]] = field(default_factory=dict)
    cost_by_day: dict[date, dict[str, float]] = field(default_factory=dict)
    cost_total: float = 0.0
    tokens_total: int = 0
    triaged_tickets: int = 0
    failures_by_kind: list[tuple[str, int]] = field(default_factory=list)
    failures_by_day: dict[date, int] = field(default_factory=dict)
    manual_by_day: dict[date, int] = field(default_factory=dict)
    manual_total: int = 0
    failed_runs: int = 0
    reviewed: int = 0
    # tickets per status, the lifecycle's (Open, Pending, Solved, Closed) included
    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def cost_per_ticket(self) -> float | None:
        return self.cost_total / self.triaged_tickets if self.triaged_tickets else None

    @property
    def tokens_per_ticket(self) -> float | None:
        return self.tokens_total / self.triaged_tickets if self.triaged_tickets else None


def _duration_stats(qs: QuerySet[Ticket], start: str, end: str) -> dict[str, float | int | None]:
    """Median and p90 of end - start in seconds, computed in Python from one float a ticket (the
    portable path; PostgreSQL computes both pairs in one statement, see _pg_durations)."""
    values = [(e - s).total_seconds() for s, e in qs.values_list(start, end).iterator(2000)]
    return {"n": len(values), "median": percentile(values, 0.5), "p90": percentile(values, 0.9)}


def _pg_durations(tickets: QuerySet[Ticket]) -> dict[str, dict[str, float | int | None]]:
    """Both duration pairs in one pass (percentile_cont, the same interpolation as `percentile`),
    from the report index alone: a million tickets never come into this process."""
    inner, params = (
        tickets.order_by().values("created_at", "triaged_at", "reviewed_at").query.sql_with_params()
    )
    triaged = "EXTRACT(EPOCH FROM triaged_at - created_at)::float8"
    reviewed = "EXTRACT(EPOCH FROM reviewed_at - triaged_at)::float8"
    both = "triaged_at IS NOT NULL AND reviewed_at IS NOT NULL"
    sql = f"""
        SELECT count(*) FILTER (WHERE triaged_at IS NOT NULL),
               percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY {triaged})
                   FILTER (WHERE triaged_at IS NOT NULL),
               count(*) FILTER (WHERE {both}),
               percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY {reviewed}) FILTER (WHERE {both})
        FROM ({inner}) s
    """  # noqa: S608 - column names from this module; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        n1, q1, n2, q2 = cursor.fetchone()
    (m1, p1), (m2, p2) = q1 or (None, None), q2 or (None, None)
    return {
        "arrival_to_triaged": {"n": n1, "median": m1, "p90": p1},
        "triaged_to_reviewed": {"n": n2, "median": m2, "p90": p2},
    }


def _category_pairs(tickets: QuerySet[Ticket]) -> list[tuple[str | None, str, int]]:
    """(proposed category, final category, tickets) over the reviewed tickets with a model run,
    grouped in the database: a million reviewed tickets are a few dozen pairs."""
    reviewed = tickets.filter(status__in=REVIEWED_STATES, latest_run__isnull=False).order_by()
    if connection.vendor != "postgresql":
        pairs = (
            reviewed.annotate(
                proposed=KeyTextTransform("value", KeyTransform("category", "latest_run__result"))
            )
            .values_list("proposed", "category")
            .annotate(n=Count("*"))
        )
        return list(pairs)
    # The ORM's join hashes whole run rows (450 bytes with the result) and spilled 64 batches to
    # disk on 1M tickets; projecting each run to (id, proposed) first (OFFSET 0 keeps PostgreSQL
    # from merging the subquery back) hashes 20 bytes a run, and the tickets come from the
    # report index alone.
    inner, params = reviewed.values("latest_run_id", "category").query.sql_with_params()
    run = TriageRun._meta.db_table
    sql = f"""
        SELECT r.proposed, t.category, count(*)
        FROM ({inner}) t
        JOIN (SELECT id, result -> 'category' ->> 'value' AS proposed FROM {run} OFFSET 0) r
          ON r.id = t.latest_run_id
        GROUP BY 1, 2
    """  # noqa: S608 - the table name from model meta and the ORM's compiled SQL
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _local_day(value: datetime) -> date:
    return timezone.localtime(value).date()


def report_dashboard_get(*, filters: ReportFilters) -> Dashboard:
    """Every chart of the dashboard in six statements, each one pass grouped in the database:
    the tickets by (day, category, channel, priority, status) and their durations from the
    covering index ticket_report_created_idx, the category matrix (the latest runs of reviewed
    tickets), the runs by (day, status, failure kind) from triagerun_report_day_idx, the count of
    triaged tickets, and the review decisions. Filters reach the runs and decisions as a join."""
    tickets = report_ticket_list(filters=filters)
    d = Dashboard()
    days: set[date] = set()
    # volume, priority mix, manual triage and reviewed tickets: one grouped pass. Count("*"), not
    # Count("id"), so PostgreSQL can answer from the index without visiting the table.
    by_cat: dict[str, dict[date, int]] = defaultdict(dict)
    by_chan: dict[str, dict[date, int]] = defaultdict(dict)
    priorities: dict[str, int] = defaultdict(int)
    manual, reviewed = Ticket.Status.MANUAL_TRIAGE.value, {s.value for s in REVIEWED_STATES}
    groups = (
        tickets.annotate(day=TruncDate("created_at"))
        .values_list("day", "category", "channel", "priority", "status")
        .annotate(n=Count("*"))
        .order_by()
    )
    for day, cat, chan, pri, status, n in groups:
        cat = cat or "(none)"
        by_cat[cat][day] = by_cat[cat].get(day, 0) + n
        by_chan[chan][day] = by_chan[chan].get(day, 0) + n
        priorities[pri or "(none)"] += n
        d.by_status[status] = d.by_status.get(status, 0) + n
        if status == manual:
            d.manual_by_day[day] = d.manual_by_day.get(day, 0) + n
        elif status in reviewed:
            d.reviewed += n
        days.add(day)
        d.tickets += n
    d.volume_by_category = dict(sorted(by_cat.items()))
    d.volume_by_channel = dict(sorted(by_chan.items()))
    d.priority_mix = sorted(priorities.items(), key=lambda item: (-item[1], item[0]))
    d.manual_by_day = dict(sorted(d.manual_by_day.items()))
    d.manual_total = sum(d.manual_by_day.values())
    # durations
    if connection.vendor == "postgresql":
        d.durations = _pg_durations(tickets)
    else:
        d.durations["arrival_to_triaged"] = _duration_stats(
            tickets.filter(triaged_at__isnull=False), "created_at", "triaged_at"
        )
        d.durations["triaged_to_reviewed"] = _duration_stats(
            tickets.filter(triaged_at__isnull=False, reviewed_at__isnull=False), "triaged_at", "reviewed_at"
        )
    # review: each decision with a model proposal, field by field
    review_by_field = {name: {"accepted": 0, "corrected": 0} for name in CLASSIFIED_FIELDS}
    review_by_day: dict[date, dict[str, int]] = defaultdict(lambda: {"accepted": 0, "corrected": 0})
    decisions = ReviewDecision.objects.filter(run__isnull=False, **_ticket_lookups(filters, "ticket__"))
    for created, result, after in decisions.values_list("created_at", "run__result", "after").iterator(2000):
        if isinstance(result, str):
            result = json.loads(result)
        if not result:
            continue
        day = _local_day(created)
        for name in CLASSIFIED_FIELDS:
            proposed = (result.get(name) or {}).get("value", "")
            if not proposed:
                continue
            key = "accepted" if after.get(name) == proposed else "corrected"
            review_by_field[name][key] += 1
            review_by_day[day][key] += 1
            days.add(day)
    d.review_by_field = review_by_field
    d.review_by_day = dict(sorted(review_by_day.items()))
    # proposed vs final category, reviewed tickets with a proposal
    matrix: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for proposed, final, n in _category_pairs(tickets):
        if proposed:
            matrix[proposed][final or "(none)"] += n
    d.category_matrix = {k: dict(v) for k, v in sorted(matrix.items())}
    # tokens and cost per day (day of the run), and failures by kind: one grouped pass
    runs = TriageRun.objects.filter(**_ticket_lookups(filters, "ticket__"))
    failed = TriageRun.Status.FAILED.value
    failures: dict[str, int] = defaultdict(int)
    for row in (
        runs.annotate(day=TruncDate("started_at"))
        .values("day", "status", "error_kind")
        .annotate(
            n=Count("*"),
            prompt=Sum("prompt_tokens"),
            cached=Sum("cached_tokens"),
            completion=Sum("completion_tokens"),
            cost=Sum(run_cost_expression()),
        )
        .order_by()
    ):
        day = d.cost_by_day.setdefault(
            row["day"], {"runs": 0, "prompt": 0, "cached": 0, "completion": 0, "cost": 0.0}
        )
        day["runs"] += row["n"]
        day["prompt"] += row["prompt"] or 0
        day["cached"] += row["cached"] or 0
        day["completion"] += row["completion"] or 0
        day["cost"] += float(row["cost"] or 0.0)
        if row["status"] == failed:
            d.failures_by_day[row["day"]] = d.failures_by_day.get(row["day"], 0) + row["n"]
            failures[row["error_kind"] or "unknown"] += row["n"]
        d.cost_total += float(row["cost"] or 0.0)
        d.tokens_total += (row["prompt"] or 0) + (row["completion"] or 0)
        days.add(row["day"])
    d.cost_by_day = dict(sorted(d.cost_by_day.items()))
    d.failures_by_day = dict(sorted(d.failures_by_day.items()))
    d.failures_by_kind = sorted(failures.items(), key=lambda item: (-item[1], item[0]))
    d.failed_runs = sum(failures.values())
    d.triaged_tickets = runs.values("ticket_id").distinct().count()
    d.days = _day_axis(days, filters)
    return d


def _day_axis(days: set[date], filters: ReportFilters) -> list[date]:
    """Every day from the first to the last (empty days show as gaps, not as missing bars)."""
    if not days and not (filters.date_from and filters.date_to):
        return []
    start = filters.date_from or min(days)
    end = filters.date_to or max(days)
    if days:
        start, end = min(start, min(days)), max(end, max(days))
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]
