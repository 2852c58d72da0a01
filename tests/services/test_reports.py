"""Report numbers, export rows and files, the background export and the weekly email, checked
against the hand-worked week in tests/report_fixture.py."""

from __future__ import annotations

import codecs
import csv
import io
from datetime import date, timedelta

import openpyxl
import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from tests.declared import DECLARED_GUESSES
from tests.factories import UserFactory
from tests.report_fixture import RANGE, at, build_week, manager_user
from triage.adapters.export import FORMULA_PREFIXES, TICKET_COLUMNS
from triage.adapters.export import TICKET_COLUMN_INDEX as COL
from triage.models import ReportExport, Ticket
from triage.selectors.reports import ReportFilters, percentile, report_dashboard_get
from triage.services import reports
from triage.services.export_engine import report_ticket_rows

pytestmark = pytest.mark.django_db

T1_COST = (8000 * 0.95 + 2000 * 0.16 + 1000 * 4.00) / 1e6
T3_COST = (2000 * 0.60 + 500 * 3.00) / 1e6
T4_COST = 1200 * 0.95 / 1e6


@pytest.fixture
def week():
    return build_week()


def test_percentile_interpolates_like_percentile_cont():
    assert percentile([], 0.5) is None
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([60, 120, 180, 240], 0.5) == 150
    assert percentile([240, 60, 180, 120], 0.9) == pytest.approx(222)


def test_dashboard_numbers_match_the_hand_worked_week(week):
    d = report_dashboard_get(filters=RANGE)
    assert d.tickets == 4
    assert d.days == [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)]
    assert d.volume_by_category == {
        "(none)": {date(2026, 3, 3): 1},
        "billing": {date(2026, 3, 2): 1},
        "bug": {date(2026, 3, 2): 1},
        "how_to": {date(2026, 3, 3): 1},
    }
    assert d.volume_by_channel == {
        "EMAIL": {date(2026, 3, 2): 1, date(2026, 3, 3): 1},
        "WEB": {date(2026, 3, 2): 1, date(2026, 3, 3): 1},
    }
    assert d.priority_mix == [("high", 2), ("low", 1), ("(none)", 1)]  # most urgent first
    assert d.durations["arrival_to_triaged"] == {"n": 4, "median": 150, "p90": pytest.approx(222)}
    assert d.durations["triaged_to_reviewed"] == {"n": 2, "median": 900, "p90": pytest.approx(1140)}
    assert d.review_by_field == {
        "category": {"accepted": 1, "corrected": 1},
        "priority": {"accepted": 2, "corrected": 0},
        "queue": {"accepted": 1, "corrected": 1},
        "sentiment": {"accepted": 2, "corrected": 0},
        "language": {"accepted": 2, "corrected": 0},
        **{name: {"accepted": 2, "corrected": 0} for name in DECLARED_GUESSES},
    }
    # two reviews accept each declared field too
    assert d.review_by_day == {date(2026, 3, 2): {"accepted": 8 + 2 * len(DECLARED_GUESSES), "corrected": 2}}
    assert d.category_matrix == {"bug": {"bug": 1, "billing": 1}}
    assert d.cost_total == pytest.approx(T1_COST + T3_COST + T4_COST)
    assert d.cost_by_day[date(2026, 3, 2)]["cost"] == pytest.approx(T1_COST)
    assert d.cost_by_day[date(2026, 3, 3)] == {
        "runs": 2,
        "prompt": 3200,
        "cached": 0,
        "completion": 500,
        "cost": pytest.approx(T3_COST + T4_COST),
    }
    assert d.triaged_tickets == 4
    assert d.cost_per_ticket == pytest.approx((T1_COST + T3_COST + T4_COST) / 4)
    assert d.tokens_total == 11000 + 1380 + 2500 + 1200
    assert d.failures_by_kind == [("timeout", 1)]
    assert d.failures_by_day == {date(2026, 3, 3): 1}
    assert d.manual_total == 1 and d.manual_by_day == {date(2026, 3, 3): 1}
    assert d.reviewed == 2


def test_dashboard_filters_by_channel_and_category(week):
    email = report_dashboard_get(
        filters=ReportFilters(date_from=RANGE.date_from, date_to=RANGE.date_to, channel="EMAIL")
    )
    assert email.tickets == 2 and set(email.volume_by_channel) == {"EMAIL"}
    assert email.cost_total == pytest.approx(T4_COST)
    # the filter reaches every chart family: matrix, runs and failures, review, manual triage
    assert email.category_matrix == {"bug": {"billing": 1}}  # T2 only; T4 was never reviewed
    assert email.triaged_tickets == 2 and email.failures_by_kind == [("timeout", 1)]
    assert email.reviewed == 1 and email.manual_total == 1
    assert email.review_by_field["category"] == {"accepted": 0, "corrected": 1}
    assert email.priority_mix == [("high", 1), ("(none)", 1)]
    assert email.durations["triaged_to_reviewed"] == {"n": 1, "median": 1200, "p90": 1200}
    bug = report_dashboard_get(filters=ReportFilters(category="bug"))
    assert bug.tickets == 2  # T1 and T5 (no date range); T2 was corrected to billing
    everything = report_dashboard_get(filters=ReportFilters())
    assert everything.tickets == 5


def _rows(filters=RANGE, **kwargs):
    return {row[COL["id"]]: row for row in report_ticket_rows(filters=filters, **kwargs)}


def test_export_rows_carry_every_column_per_ticket(week, settings):
    settings.TRIAGE_PUBLIC_URL = "https://triage.example/"
    rows = _rows()
    assert list(rows) == [week.t1.id, week.t2.id, week.t3.id, week.t4.id]
    assert all(len(row) == len(TICKET_COLUMNS) for row in rows.values())
    t1, t2, t3, t4 = (rows[t.id] for t in (week.t1, week.t2, week.t3, week.t4))
    assert t2[COL["reference"]] == f"TRI-{week.t2.id}"
    assert t2[COL["url"]] == f"https://triage.example/tickets/{week.t2.id}/"
    assert t2[COL["created_at"]] == at(2, 11)
    assert t2[COL["channel"]] == "EMAIL"
    assert t2[COL["proposed_category"]] == "bug" and t2[COL["final_category"]] == "billing"
    assert t2[COL["confidence_category"]] == 0.92
    assert t2[COL["proposed_queue"]] == "engineering" and t2[COL["final_queue"]] == "billing_team"
    assert t2[COL["final_priority"]] == "high"
    assert t2[COL["fields_corrected"]] == 2 and t1[COL["fields_corrected"]] == 0
    assert t2[COL["reviewer"]] == "rita"
    assert t2[COL["arrival_to_triaged_s"]] == 120 and t2[COL["triaged_to_reviewed_s"]] == 1200
    assert t1[COL["cost_usd"]] == pytest.approx(T1_COST) and t2[COL["cost_usd"]] == 0
    assert (t1[COL["prompt_tokens"]], t1[COL["cached_tokens"]], t1[COL["completion_tokens"]]) == (
        10000,
        2000,
        1000,
    )
    assert (t1[COL["attachments"]], t1[COL["images"]], t1[COL["rejected_attachments"]]) == (2, 2, 1)
    assert t3[COL["final_category"]] == "" and t3[COL["proposed_category"]] == "how_to"
    assert t3[COL["triaged_to_reviewed_s"]] is None and t3[COL["fields_corrected"]] is None
    assert t4[COL["failure_kind"]] == "timeout" and t4[COL["failed_runs"]] == 1
    assert t4[COL["proposed_category"]] == "" and t4[COL["status"]] == "MANUAL_TRIAGE"
    assert t4[COL["attachments"]] == 0


def test_export_rows_are_the_same_in_small_chunks(week):
    assert _rows(chunk_size=1) == _rows(chunk_size=3) == _rows()
    assert list(_rows(filters=ReportFilters(), chunk_size=2)) == [
        t.id for t in (week.t1, week.t2, week.t3, week.t4, week.t5)
    ]
    channel = ReportFilters(channel="EMAIL")
    assert list(_rows(filters=channel, chunk_size=1)) == [week.t2.id, week.t4.id]


def test_export_cost_per_ticket_adds_up_to_the_dashboard_total(week):
    total = sum(row[COL["cost_usd"]] for row in report_ticket_rows(filters=RANGE))
    assert total == pytest.approx(report_dashboard_get(filters=RANGE).cost_total)


def test_csv_export_neutralizes_a_hostile_subject(week):
    text = b"".join(reports.report_csv_stream(filters=RANGE)).decode("utf-8-sig")
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert len(parsed) == 4
    by_id = {int(r["Ticket id"]): r for r in parsed}
    assert by_id[week.t2.id]["Subject"] == "'=cmd|' /C calc'!A0"
    assert by_id[week.t2.id]["Final category"] == "billing"
    assert by_id[week.t1.id]["Cost (USD)"] == f"{T1_COST:.6f}"


@pytest.mark.parametrize("filters", [RANGE, ReportFilters(), ReportFilters(channel="EMAIL")], ids=str)
def test_postgres_copy_csv_equals_the_python_rendering(week, filters):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    Ticket.objects.filter(id=week.t3.id).update(subject="-dash\rcarriage", requester_email="")
    Ticket.objects.filter(id=week.t4.id).update(subject='"quoted", comma\nnew line')
    Ticket.objects.filter(id=week.t2.id).update(subject="x;=cmd|' /C calc'!A0", summary="a, -1 |@b")
    fast = b"".join(reports.report_csv_stream(filters=filters)).decode()
    slow = b"".join(reports.report_csv_stream(filters=filters, fast=False)).decode()
    assert fast == slow  # byte for byte: quoting, empty cells, line ends
    fast_rows = list(csv.reader(io.StringIO(fast, newline="")))
    slow_rows = list(csv.reader(io.StringIO(slow, newline="")))
    assert len(fast_rows) == len(slow_rows) > 1
    for fast_row, slow_row in zip(fast_rows, slow_rows, strict=True):
        assert fast_row == slow_row
    assert any(row[COL["subject"]] == "'-dash\rcarriage" for row in fast_rows) or filters.channel
    t2 = next(row for row in fast_rows[1:] if row[0] == str(week.t2.id))
    assert (t2[COL["subject"]], t2[COL["summary"]]) == ("'x;'=cmd|' /C calc'!A0", "'a, '-1 |'@b")
    # a spreadsheet splitting lines at ";" or "|" (its locale's list separator) starts no formula
    for separator in ";|":
        for line in fast.splitlines():
            cells = next(csv.reader([line], delimiter=separator))
            assert not any(c.lstrip(" ").startswith(FORMULA_PREFIXES) for c in cells), line


def test_progress_is_reported_by_both_csv_paths(week):
    for fast in (True, False):
        seen: list[int] = []
        b"".join(reports.report_csv_stream(filters=RANGE, on_progress=seen.append, fast=fast))
        assert seen[-1] == 4, fast


def test_xlsx_export_checked_cell_by_cell(week, tmp_path):
    path = tmp_path / "r.xlsx"
    result = reports.report_xlsx_write(filters=RANGE, path=path)
    assert result.rows == 4
    book = openpyxl.load_workbook(path)
    assert book.sheetnames[:2] == ["Tickets", "Summary"]
    ws = book["Tickets"]
    headers = [c.value for c in ws[1]]
    assert headers == [c.header for c in TICKET_COLUMNS]
    sheet_rows = [dict(zip(headers, (c.value for c in row), strict=True)) for row in ws.iter_rows(min_row=2)]
    expected = list(report_ticket_rows(filters=RANGE))
    assert len(sheet_rows) == len(expected)
    for got, want in zip(sheet_rows, expected, strict=True):
        for column, value in zip(TICKET_COLUMNS, want, strict=True):
            cell = got[column.header]
            if value is None or value == "":
                assert cell is None, column.key
            elif column.kind == "datetime":
                # Excel keeps milliseconds
                assert abs(cell - value.replace(tzinfo=None)) < timedelta(milliseconds=1), column.key
            elif column.kind == "seconds":
                assert cell == round(value), column.key
            elif column.kind == "text":
                assert cell == ("'" + value if value[0] in "=+-@\t\r" else value), column.key
            else:
                assert cell == pytest.approx(value), column.key
    t2 = next(r for r in sheet_rows if r["Ticket id"] == week.t2.id)
    assert t2["Subject"] == "'=cmd|' /C calc'!A0"
    summary = {row[0].value: row[1].value for row in book["Summary"].iter_rows(min_row=2)}
    assert summary["Tickets"] == 4 and summary["Manual triage"] == 1 and summary["Reviewed"] == 2
    assert summary["Cost (USD)"] == pytest.approx(T1_COST + T3_COST + T4_COST)
    assert summary["Arrival → triaged, median (s)"] == 150
    assert not any("_" in str(key) for key in summary)  # the dashboard's words, not raw keys
    matrix = [[c.value for c in row] for row in book["Category matrix"].iter_rows()]
    assert matrix == [["Proposed \\ final", "Billing & payments", "Bug / error"], ["Bug / error", 1, 1]]
    for name in book.sheetnames:  # every sheet sorts and filters in Excel
        assert book[name].auto_filter.ref and book[name].auto_filter.ref.startswith("A1:"), name
    review = {
        row[0].value: (row[1].value, row[2].value) for row in book["Review by field"].iter_rows(min_row=2)
    }
    assert review["Category"] == (1, 1) and review["Priority"] == (2, 0)


def test_large_export_is_queued_on_commit_and_written_by_the_job(week, django_capture_on_commit_callbacks):
    user = manager_user()
    with django_capture_on_commit_callbacks() as callbacks:
        export = reports.report_export_create(user=user, filters=RANGE, fmt="csv")
    assert len(callbacks) == 1
    assert export.status == ReportExport.Status.QUEUED and export.total_rows == 4
    reports.report_export_run(export_id=export.id)
    export.refresh_from_db()
    assert export.status == ReportExport.Status.DONE and export.done_rows == 4 and export.percent == 100
    assert export.expires_at > timezone.now()
    with default_storage.open(export.file.name) as fh:
        parsed = list(csv.reader(io.TextIOWrapper(fh, encoding="utf-8")))
    assert len(parsed) == 5 and parsed[1][0] == str(week.t1.id)
    assert export.size_bytes == default_storage.size(export.file.name)
    finished = export.finished_at
    reports.report_export_run(export_id=export.id)  # a second delivery does nothing
    export.refresh_from_db()
    assert export.finished_at == finished


def test_xlsx_job_writes_a_workbook(week):
    export = ReportExport.objects.create(requested_by=manager_user(), format="xlsx", filters=RANGE.as_dict())
    reports.report_export_run(export_id=export.id)
    export.refresh_from_db()
    assert export.status == ReportExport.Status.DONE
    with default_storage.open(export.file.name) as fh:
        assert openpyxl.load_workbook(fh)["Tickets"].max_row == 5


def test_a_failing_job_is_recorded_on_the_row(week, monkeypatch):
    export = ReportExport.objects.create(requested_by=manager_user(), format="csv", filters=RANGE.as_dict())
    monkeypatch.setattr(
        reports, "report_csv_stream", lambda **_: (_ for _ in ()).throw(RuntimeError("disk full"))
    )
    with pytest.raises(RuntimeError):
        reports.report_export_run(export_id=export.id)
    export.refresh_from_db()
    assert export.status == ReportExport.Status.FAILED and "disk full" in export.error_message


def test_finished_files_expire(week, settings):
    settings.TRIAGE_REPORT_EXPIRE_HOURS = 2
    export = ReportExport.objects.create(requested_by=manager_user(), format="csv", filters=RANGE.as_dict())
    reports.report_export_run(export_id=export.id)
    export.refresh_from_db()
    name = export.file.name
    assert reports.report_export_purge(now=timezone.now() + timedelta(hours=1)) == 0
    assert default_storage.exists(name)
    assert reports.report_export_purge(now=timezone.now() + timedelta(hours=3)) == 1
    export.refresh_from_db()
    assert export.status == ReportExport.Status.EXPIRED and not default_storage.exists(name)


def test_weekly_email_goes_to_managers_with_the_xlsx_and_headline(week, mailoutbox):
    manager_user(username="mona", email="mona@example.com")
    manager_user(username="nomail", email="")
    UserFactory(username="agent", email="agent@example.com")
    sent = reports.report_weekly_send(now=at(5, 7))  # Thursday 03-05: last seven days 02-26..03-04
    assert sent == 1 and len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["mona@example.com"]
    assert "2026-02-26" in message.subject and "2026-03-04" in message.subject
    assert "Tickets: 4" in message.body and "Manual triage: 1" in message.body
    assert "Cost: $0.0158" in message.body
    assert "Arrival to triaged: median 2m 30s" in message.body
    name, content, mimetype = message.attachments[0]
    assert name.endswith(".xlsx") and mimetype == reports.XLSX_CONTENT_TYPE
    book = openpyxl.load_workbook(io.BytesIO(content))
    assert book["Tickets"].max_row == 5


def test_weekly_email_without_managers_sends_nothing(week, mailoutbox):
    assert reports.report_weekly_send(now=at(5, 7)) == 0
    assert mailoutbox == []


def test_beat_schedules_the_weekly_email_and_the_purge(settings):
    from triage.celery import app
    from triage.tasks import report_export_purge_task, report_export_run_task, report_weekly_send_task

    schedule = settings.CELERY_BEAT_SCHEDULE
    weekly = schedule["report-weekly"]
    assert weekly["task"] == report_weekly_send_task.name
    assert weekly["schedule"].hour == {settings.TRIAGE_REPORT_WEEKLY_HOUR}
    assert weekly["schedule"].day_of_week == {1}  # "mon"
    assert schedule["report-export-purge"]["task"] == report_export_purge_task.name
    assert app.conf.beat_schedule == schedule
    for task in (report_export_run_task, report_weekly_send_task, report_export_purge_task):
        assert task.queue == "reports"


def test_the_weekly_task_sends_the_email(week, mailoutbox):
    from triage.tasks import report_weekly_send_task

    manager_user(username="mona", email="mona@example.com")
    report_weekly_send_task()  # what beat runs; the body is the service call
    assert len(mailoutbox) == 1 and mailoutbox[0].attachments


@pytest.mark.django_db(transaction=True)
def test_a_large_csv_job_reports_progress_while_copy_streams():
    """More than one progress step (5,000 lines): the progress write may not use the connection
    that is streaming the COPY (it waited forever) nor its transaction."""
    Ticket.objects.bulk_create(
        Ticket(subject=f"Ticket {i}", description="d", requester_email="a@example.com") for i in range(5_100)
    )
    export = ReportExport.objects.create(requested_by=manager_user(), format="csv", filters={})
    reports.report_export_run(export_id=export.id)
    export.refresh_from_db()
    assert export.status == ReportExport.Status.DONE and export.done_rows == 5_100
    with default_storage.open(export.file.name) as fh:
        assert sum(1 for _ in fh) == 5_101


def test_csv_starts_with_a_utf8_byte_order_mark_by_default_for_excel(week, settings):
    body = b"".join(reports.report_csv_stream(filters=RANGE))
    assert body.startswith(codecs.BOM_UTF8) and body.count(codecs.BOM_UTF8) == 1
    assert body[3:].decode().startswith('"Ticket id"')
    slow = b"".join(reports.report_csv_stream(filters=RANGE, fast=False))
    assert slow == body  # the COPY path and the Python path alike
    settings.TRIAGE_CSV_BOM = False
    assert b"".join(reports.report_csv_stream(filters=RANGE)) == body[3:]
