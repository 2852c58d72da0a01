"""Manager reports: export files (CSV streamed, XLSX with summary sheets), the background export
with progress, expiry of finished files, and the weekly email."""

from __future__ import annotations

import codecs
import io
import itertools
import logging
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from triage.adapters.export import TICKET_COLUMNS, csv_stream, csv_writer, neutralize, xlsx_write
from triage.adapters.export.render import Sheet, XlsxResult
from triage.models import ReportExport
from triage.roles import MANAGERS_GROUP
from triage.selectors.reports import Dashboard, ReportFilters, report_dashboard_get, report_ticket_count
from triage.selectors.taxonomy import taxonomy_labels
from triage.services.export_engine import report_ticket_csv_copy, report_ticket_rows
from triage.services.redaction import redact_mode

logger = logging.getLogger(__name__)

HEADERS = [c.header for c in TICKET_COLUMNS]
KINDS = [c.kind for c in TICKET_COLUMNS]
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Progress = Callable[[int], None]


def report_csv_stream(
    *,
    filters: ReportFilters,
    on_progress: Progress | None = None,
    fast: bool = True,
    streams: int | None = None,
) -> Iterator[bytes]:
    """The CSV export in blocks of bytes. On PostgreSQL the rows come straight from COPY (the same
    values as the Python renderer, checked by the tests), in `streams` parallel id ranges
    (TRIAGE_REPORT_COPY_STREAMS by default) giving the same bytes; elsewhere, or with fast=False,
    Python renders them. Progress from COPY counts line ends, so a field holding a newline counts
    twice."""
    streams = settings.TRIAGE_REPORT_COPY_STREAMS if streams is None else streams
    # redacted exports are rendered in Python (COPY writes the columns as stored)
    fast = fast and redact_mode() != "everywhere"
    copy = report_ticket_csv_copy(filters=filters, streams=streams) if fast else None
    if copy is None:
        blocks: Iterator[bytes] = (
            block.encode()
            for block in csv_stream(
                headers=HEADERS,
                kinds=KINDS,
                rows=report_ticket_rows(filters=filters),
                on_progress=on_progress,
            )
        )
    else:
        blocks = _with_header(copy, on_progress)
    # the byte order mark that makes Excel on Windows read UTF-8 (TRIAGE_CSV_BOM, on by default)
    return itertools.chain([codecs.BOM_UTF8], blocks) if settings.TRIAGE_CSV_BOM else blocks


def _with_header(blocks: Iterator[bytes], on_progress: Progress | None) -> Iterator[bytes]:
    header = io.StringIO()
    csv_writer(header).writerow([neutralize(h) for h in HEADERS])
    yield header.getvalue().encode()
    lines = reported = 0
    for block in blocks:
        yield block
        lines += block.count(b"\n")
        if on_progress is not None and lines - reported >= 5000:
            on_progress(lines)
            reported = lines
    if on_progress is not None:
        on_progress(lines)


# the dashboard's words for its intervals, not the keys of Dashboard.durations
DURATION_LABELS = {"arrival_to_triaged": "Arrival → triaged", "triaged_to_reviewed": "Triaged → reviewed"}


def report_summary_sheets(*, dashboard: Dashboard) -> list[Sheet]:
    """The dashboard's tables as small sheets beside the ticket rows."""
    d = dashboard
    headline = [
        ("Tickets", d.tickets),
        ("Reviewed", d.reviewed),
        ("Manual triage", d.manual_total),
        ("Failed model runs", d.failed_runs),
        ("Tokens", d.tokens_total),
        ("Cost (USD)", round(d.cost_total, 6)),
        ("Cost per triaged ticket (USD)", d.cost_per_ticket),
    ]
    for key, stats in d.durations.items():
        name = DURATION_LABELS.get(key, key.replace("_", " ").capitalize())
        headline += [(f"{name}, median (s)", stats["median"]), (f"{name}, p90 (s)", stats["p90"])]
    labels = taxonomy_labels()
    category, priority = labels.get("category", {}), labels.get("priority", {})
    categories = list(d.volume_by_category)
    volume = [
        [day, *(d.volume_by_category[c].get(day, 0) for c in categories)]
        for day in d.days
        if any(day in d.volume_by_category[c] for c in categories)
    ]
    review = [
        [name.replace("_", " ").capitalize(), s["accepted"], s["corrected"]]
        for name, s in d.review_by_field.items()
    ]
    cost = [
        [day, v["runs"], v["prompt"], v["cached"], v["completion"], round(v["cost"], 6)]
        for day, v in d.cost_by_day.items()
    ]
    finals = sorted({f for row in d.category_matrix.values() for f in row})
    matrix = [[category.get(p, p), *(row.get(f, 0) for f in finals)] for p, row in d.category_matrix.items()]
    return [
        Sheet("Summary", ["Measure", "Value"], headline),
        Sheet("Volume by category", ["Day", *(category.get(c, c) for c in categories)], volume),
        Sheet("Priority mix", ["Priority", "Tickets"], [(priority.get(p, p), n) for p, n in d.priority_mix]),
        Sheet("Review by field", ["Field", "Accepted", "Corrected"], review),
        Sheet("Category matrix", ["Proposed \\ final", *(category.get(f, f) for f in finals)], matrix),
        Sheet("Cost by day", ["Day", "Runs", "Prompt", "Cached", "Completion", "Cost (USD)"], cost),
        Sheet("Failures", ["Failure kind", "Runs"], d.failures_by_kind),
    ]


def report_xlsx_write(
    *, filters: ReportFilters, path: Path | str | IO[bytes], on_progress: Progress | None = None
) -> XlsxResult:
    return xlsx_write(
        path=path,
        sheet_name="Tickets",
        headers=HEADERS,
        kinds=KINDS,
        rows=report_ticket_rows(filters=filters),
        summaries=report_summary_sheets(dashboard=report_dashboard_get(filters=filters)),
        on_progress=on_progress,
    )


def report_export_is_large(*, filters: ReportFilters) -> bool:
    return report_ticket_count(filters=filters) > settings.TRIAGE_REPORT_SYNC_MAX_ROWS


@transaction.atomic
def report_export_create(*, user: User, filters: ReportFilters, fmt: str) -> ReportExport:
    """Record a background export and queue it once the row is committed."""
    from triage.tasks import report_export_run_task

    export = ReportExport.objects.create(
        requested_by=user,
        format=ReportExport.Format(fmt),
        filters=filters.as_dict(),
        total_rows=report_ticket_count(filters=filters),
    )
    report_export_run_task.delay_on_commit(export_id=export.id)
    return export


def _claim(export_id: int) -> ReportExport | None:
    with transaction.atomic():
        export = (
            ReportExport.objects.select_for_update(skip_locked=True)
            .filter(id=export_id, status__in=[ReportExport.Status.QUEUED, ReportExport.Status.RUNNING])
            .first()
        )
        if export is None:
            return None  # done, failed, expired, or another worker holds it
        export.status = ReportExport.Status.RUNNING
        export.done_rows = 0
        export.save(update_fields=["status", "done_rows"])
    return export


def report_export_run(*, export_id: int) -> None:
    """Write the file, then store it under a key derived from the export id. A redelivered task
    (worker killed mid-way) starts the file again; a finished one is a no-op."""
    export = _claim(export_id)
    if export is None:
        return
    filters = ReportFilters.from_dict(export.filters)
    progress = _ProgressWriter(export_id)
    try:
        with tempfile.TemporaryDirectory(prefix="triage-report-") as tmp:
            path = Path(tmp) / f"export.{export.format}"
            if export.format == ReportExport.Format.CSV:
                with path.open("wb") as fh:
                    for block in report_csv_stream(filters=filters, on_progress=progress):
                        fh.write(block)
            else:
                report_xlsx_write(filters=filters, path=path, on_progress=progress)
            key = f"reports/export-{export.id}.{export.format}"
            if default_storage.exists(key):
                default_storage.delete(key)
            with path.open("rb") as fh:
                key = default_storage.save(key, File(fh))
            size = path.stat().st_size
    except Exception as exc:
        logger.exception("export %s failed", export_id)
        ReportExport.objects.filter(id=export_id).update(
            status=ReportExport.Status.FAILED, error_message=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    finally:
        progress.close()
    now = timezone.now()
    ReportExport.objects.filter(id=export_id).update(
        status=ReportExport.Status.DONE,
        file=key,
        size_bytes=size,
        finished_at=now,
        expires_at=now + timedelta(hours=settings.TRIAGE_REPORT_EXPIRE_HOURS),
    )


class _ProgressWriter:
    """`done_rows` of an export, written from a thread of its own on its own connection: the
    caller's connection is busy streaming the COPY (a query on it mid-COPY waits forever), and a
    transaction there would hide the number from the page until the end. Inside a caller's
    transaction (nobody else could see it anyway) the last number is written on close."""

    def __init__(self, export_id: int) -> None:
        self.export_id = export_id
        self.latest: int | None = None
        self.pool = None
        if not connection.in_atomic_block:
            self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-progress")

    def __call__(self, done: int) -> None:
        self.latest = done
        if self.pool is not None:
            self.pool.submit(self._write, done)

    def _write(self, done: int) -> None:
        ReportExport.objects.filter(id=self.export_id).update(done_rows=done)

    def close(self) -> None:
        if self.pool is None:
            if self.latest is not None:
                self._write(self.latest)
            return
        self.pool.submit(_close_this_threads_connection).result()
        self.pool.shutdown(wait=True)
        self.pool = None


def _close_this_threads_connection() -> None:
    connection.close()  # `connection` is per thread: looked up here, in the pool's thread


def report_export_purge(*, now: Any = None) -> int:
    """Delete finished files past their expiry; the rows stay, marked EXPIRED. Returns how many."""
    now = now or timezone.now()
    expired = ReportExport.objects.filter(status=ReportExport.Status.DONE, expires_at__lte=now)
    count = 0
    for export in expired:
        if export.file and default_storage.exists(export.file.name):
            default_storage.delete(export.file.name)
        ReportExport.objects.filter(id=export.id).update(status=ReportExport.Status.EXPIRED, file="")
        count += 1
    return count


def report_headline(*, dashboard: Dashboard) -> dict[str, Any]:
    d = dashboard
    return {
        "tickets": d.tickets,
        "reviewed": d.reviewed,
        "manual": d.manual_total,
        "failed_runs": d.failed_runs,
        "cost": d.cost_total,
        "cost_per_ticket": d.cost_per_ticket,
        "triaged_median": d.durations["arrival_to_triaged"]["median"],
        "triaged_p90": d.durations["arrival_to_triaged"]["p90"],
        "reviewed_median": d.durations["triaged_to_reviewed"]["median"],
        "reviewed_p90": d.durations["triaged_to_reviewed"]["p90"],
    }


def report_weekly_send(*, now: Any = None) -> int:
    """Email the last seven full days to every active manager with an address. Returns the number
    of recipients (0: nobody to send to, nothing sent)."""
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    filters = ReportFilters(date_from=today - timedelta(days=7), date_to=today - timedelta(days=1))
    recipients = sorted(
        set(
            get_user_model()
            .objects.filter(Q(groups__name=MANAGERS_GROUP) | Q(is_superuser=True), is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )
    if not recipients:
        return 0
    dashboard = report_dashboard_get(filters=filters)
    context = {
        "filters": filters,
        "h": report_headline(dashboard=dashboard),
        "base": settings.TRIAGE_PUBLIC_URL,
    }
    body = render_to_string("triage/reports/weekly_email.txt", context)
    name = f"triage-{filters.date_from}-to-{filters.date_to}.xlsx"
    with tempfile.TemporaryDirectory(prefix="triage-weekly-") as tmp:
        path = Path(tmp) / name
        report_xlsx_write(filters=filters, path=path)
        message = EmailMessage(
            subject=f"Triage weekly report {filters.date_from} to {filters.date_to}",
            body=body,
            to=recipients,
        )
        message.attach(name, path.read_bytes(), XLSX_CONTENT_TYPE)
        message.send()
    return len(recipients)


def report_export_requeue_stale(*, stale: datetime, now: datetime) -> tuple[int, int]:
    """Exports QUEUED since before `stale` are queued again (the claim makes a duplicate a no-op);
    one RUNNING for longer than its task may run was killed with its worker (a redelivery would have
    restarted it): failed with a reason, the person asks again. Returns (requeued, failed)."""
    from triage.tasks import report_export_run_task

    limit_s = report_export_run_task.time_limit or 3600
    dead = stale - timedelta(seconds=limit_s)
    failed = ReportExport.objects.filter(status=ReportExport.Status.RUNNING, created_at__lt=dead).update(
        status=ReportExport.Status.FAILED,
        finished_at=now,
        error_message="the export stopped before it finished (found by the sweep); please ask for it again",
    )
    requeued = 0
    for export_id in ReportExport.objects.filter(
        status=ReportExport.Status.QUEUED, created_at__lt=stale
    ).values_list("id", flat=True)[:100]:
        report_export_run_task.delay(export_id=export_id)
        requeued += 1
    return requeued, failed
