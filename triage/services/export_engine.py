"""The export engine: every ticket of a report as one row, streamed at any size.

Two ways to the same rows: `report_ticket_rows` reads keyset blocks into Python tuples (XLSX, and
CSV off PostgreSQL); `report_ticket_csv_copy` has PostgreSQL write the CSV itself through COPY, in
parallel streams over id ranges (threads, temporary spool files, one shared snapshot).
tests/services/test_reports.py checks the two agree cell for cell.
"""

from __future__ import annotations

import re
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import IO, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import (
    Max,
    Min,
)

from triage.adapters.export import TICKET_COLUMNS, neutralize, neutralize_sql
from triage.adapters.export.columns import SOURCES, copy_select, row_function
from triage.models import REVIEWED_STATES, Attachment, Ticket, TriageRun
from triage.selectors.reports import ReportFilters, report_ticket_list, run_cost_sql
from triage.services.redaction import TicketRedaction, redact_mode

# --- export rows ------------------------------------------------------------------------------


def _epoch_sql(column: str) -> str:
    """Timestamps travel as UTC epoch seconds: Django's timestamptz loader for psycopg is pure
    Python (~20 us a value); a float8 and datetime.fromtimestamp cost ~1 us, which is most of the
    difference between 30K and 60K rows/s on a million-row CSV."""
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM {column})::float8"
    return f"(julianday({column}) - 2440587.5) * 86400.0"


def _export_sql(filters: ReportFilters, lo: int, hi: int) -> tuple[str, list[Any]]:
    """One statement per block of ticket ids [lo, hi]: the tickets, their latest run, per-ticket run
    totals and attachment counts, each an index range scan over the block.

    Correlated subqueries per row (what the ORM writes for annotations) cost ~8 index probes per
    ticket; aggregating the block's runs and attachments once is one range scan per table.
    """
    ticket, run, att = Ticket._meta.db_table, TriageRun._meta.db_table, Attachment._meta.db_table
    user = get_user_model()._meta.db_table
    cost_sql, cost_params = run_cost_sql()
    select = ", ".join(_epoch_sql(c.sql) if c.stamp else c.sql for c in SOURCES)
    id_filter, ticket_filter, id_params = "", "", []
    qs = report_ticket_list(filters=filters)
    if qs.query.where:
        ids_sql, id_params_t = qs.values("id").query.sql_with_params()
        id_filter, id_params = f"AND ticket_id IN ({ids_sql})", list(id_params_t)
        ticket_filter = f"AND t.id IN ({ids_sql})"
    # S608: only table names from model meta and the ORM's own compiled SQL are interpolated;
    # every value travels as a parameter.
    sql = f"""
        SELECT {select}, lr.result
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
    redacting = redact_mode() == "everywhere"
    lo = qs.first()
    while lo is not None:
        hi = qs.filter(id__gte=lo)[chunk_size - 1 : chunk_size].first() or qs.last() or lo
        sql, params = _export_sql(filters, lo, hi)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            chunk = cursor.fetchall()
        for row in chunk:
            out = _export_row(row, base, reviewed)
            if redacting:  # TRIAGE_REDACT=everywhere: requester, subject and summary redacted
                redaction = TicketRedaction()
                out = (*out[:6], *(redaction.text(v or "") for v in out[6:9]), *out[9:])
            yield out
        lo = qs.filter(id__gt=hi).first()


_export_row = row_function()


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

    inner, exprs = copy_select(reviewed_states=frozenset(s.value for s in REVIEWED_STATES))
    # csv_writer's dialect: text, timestamps and amounts quoted (FORCE_QUOTE in _copy_sql), numbers
    # bare, an empty cell "" (a non-NULL '' is quoted by COPY as it matches the NULL string).
    outer = []
    for i, (column, expr) in enumerate(zip(TICKET_COLUMNS, exprs, strict=True)):
        if column.plain:
            pass
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
    cost_sql, cost_params = run_cost_sql()
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
