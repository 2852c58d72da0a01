"""The parallel COPY export: N id ranges on N connections give the bytes of the one-stream export.

These tests commit their rows (transaction=True): the helper streams read on connections of their
own, which cannot see a test's open transaction."""

from __future__ import annotations

import csv
import io
import threading

import pytest
from django.db import connection, transaction

from tests.report_fixture import RANGE, build_week
from triage.adapters.export import TICKET_COLUMN_INDEX as COL
from triage.models import Ticket
from triage.selectors.reports import ReportFilters
from triage.services import reports
from triage.services.export_engine import _id_ranges, report_ticket_csv_copy

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def week():
    if connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    week = build_week()
    # hostile and awkward cells in every range, the last one included
    Ticket.objects.filter(id=week.t3.id).update(subject="-dash\rcarriage", requester_email="")
    Ticket.objects.filter(id=week.t4.id).update(subject='@SUM(1)"quoted", comma\nnew line')
    Ticket.objects.filter(id=week.t5.id).update(summary="+1 then =2")
    return week


def _copy(filters, **kwargs) -> bytes:
    blocks = report_ticket_csv_copy(filters=filters, **kwargs)
    assert blocks is not None
    return b"".join(blocks)


FILTERS = [
    (RANGE, ["t1", "t2", "t3", "t4"]),
    (ReportFilters(), ["t1", "t2", "t3", "t4", "t5"]),
    (ReportFilters(channel="EMAIL"), ["t2", "t4"]),
    (ReportFilters(category="bug"), ["t1", "t5"]),  # T2 was corrected to billing
]


@pytest.mark.parametrize(("filters", "tickets"), FILTERS, ids=str)
@pytest.mark.parametrize("streams", [2, 3, 5])
def test_parallel_copy_is_byte_identical_to_one_stream(week, filters, tickets, streams):
    one = _copy(filters, streams=1)
    # tiny blocks and a tiny spool: many blocks per range, and the later ranges roll over to disk
    many = _copy(filters, streams=streams, min_ids_per_stream=1, block_bytes=64, spool_bytes=200)
    assert many == one
    rows = list(csv.reader(io.StringIO(one.decode(), newline="")))
    assert [int(r[COL["id"]]) for r in rows] == [getattr(week, t).id for t in tickets]


def test_parallel_rows_come_in_id_order_with_neutralized_cells_and_the_header(week):
    text = b"".join(reports.report_csv_stream(filters=ReportFilters(), streams=3)).decode(
        "utf-8-sig"
    )  # via the service: header first
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == [c for c in reports.HEADERS]
    body = rows[1:]
    assert [int(r[COL["id"]]) for r in body] == sorted(int(r[COL["id"]]) for r in body)
    assert len(body) == 5
    by_id = {int(r[COL["id"]]): r for r in body}
    assert by_id[week.t2.id][COL["subject"]] == "'=cmd|' /C calc'!A0"
    assert by_id[week.t3.id][COL["subject"]] == "'-dash\rcarriage"
    assert by_id[week.t4.id][COL["subject"]] == '\'@SUM(1)"quoted", comma\nnew line'
    assert by_id[week.t5.id][COL["summary"]] == "'+1 then =2"
    slow = b"".join(reports.report_csv_stream(filters=ReportFilters(), fast=False)).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(slow, newline=""))) == rows


def test_id_ranges_cover_the_filtered_ids_without_gaps(week):
    ids = sorted(t.id for t in (week.t1, week.t2, week.t3, week.t4, week.t5))
    ranges = _id_ranges(ReportFilters(), 3, 1)
    assert len(ranges) == 3
    assert ranges[0][0] == ids[0] and ranges[-1][1] == ids[-1]
    assert all(ranges[i][1] + 1 == ranges[i + 1][0] for i in range(len(ranges) - 1))
    assert _id_ranges(ReportFilters(), 3, 1_000) == [(ids[0], ids[-1])]  # too few for more streams
    assert _id_ranges(ReportFilters(queue="nobody"), 3, 1) == []


def test_inside_a_transaction_one_stream_sees_the_uncommitted_rows(week):
    with transaction.atomic():
        Ticket.objects.filter(id=week.t1.id).update(subject="changed in this transaction")
        text = _copy(ReportFilters(), streams=3, min_ids_per_stream=1).decode()
        assert "changed in this transaction" in text
        assert len(list(csv.reader(io.StringIO(text, newline="")))) == 5


def test_a_consumer_stopping_early_ends_the_helper_streams(week):
    before = threading.active_count()
    blocks = report_ticket_csv_copy(
        filters=ReportFilters(), streams=3, min_ids_per_stream=1, block_bytes=64, spool_bytes=200
    )
    first = next(blocks)
    assert first.startswith(str(week.t1.id).encode())
    blocks.close()  # a closed download: the pool is shut and its connections closed
    assert threading.active_count() == before
    assert _copy(ReportFilters(), streams=3, min_ids_per_stream=1) == _copy(ReportFilters(), streams=1)
