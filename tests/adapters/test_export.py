"""Export rendering without a database: CSV text, XLSX read back with openpyxl, formula injection."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import openpyxl
import pytest

from triage.adapters import export
from triage.adapters.export import FORMULA_PREFIXES, TICKET_COLUMNS, csv_stream, neutralize, xlsx_write
from triage.adapters.export import render as render_module
from triage.adapters.export.render import Sheet

HEADERS = ["Id", "Subject", "Created (UTC)", "Confidence", "Cost (USD)", "Wait (s)"]
KINDS = ["int", "text", "datetime", "float", "usd", "seconds"]
WHEN = datetime(2026, 3, 2, 9, 30, 15, tzinfo=UTC)
ROWS = [
    (1, "Checkout fails", WHEN, 0.92, 0.0012346, 61.6),
    (2, '=HYPERLINK("http://evil","x")', None, None, 0.0, None),
    (3, "+1 555 0100", WHEN, 0.5, 1.5, 3600.0),
    (4, "-2+3", WHEN, 0.1, 0.0, 0.4),
    (5, "@SUM(A1:A2)", WHEN, 0.2, 0.0, 1.0),
    (6, "\tcmd", WHEN, 0.3, 0.0, 1.0),
    (7, "\rcmd", WHEN, 0.3, 0.0, 1.0),
    (8, "a=b is fine", WHEN, 0.3, 0.0, 1.0),
    (9, "x;=cmd|' /C calc'!A0", WHEN, 0.3, 0.0, 1.0),
]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("x=1", "x=1"),
        ("x;=cmd|' /C calc'!A0", "'x;'=cmd|' /C calc'!A0"),
        ("a,+1", "'a,'+1"),
        ("a|@x", "'a|'@x"),
        ("a; -1", "'a; '-1"),
        ("a;\tb", "'a;'\tb"),
        ("=1;=2", "'=1;'=2"),
        ("a;b=c", "a;b=c"),
        ("a - b", "a - b"),
        ("", ""),
        ("Plain subject", "Plain subject"),
    ],
)
def test_neutralize_prefixes_only_cells_a_spreadsheet_would_run(value, expected):
    assert neutralize(value) == expected


def test_csv_round_trips_values_and_neutralizes_formulas():
    text = "".join(csv_stream(headers=HEADERS, kinds=KINDS, rows=ROWS, block_rows=3))
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == HEADERS
    assert parsed[1] == ["1", "Checkout fails", "2026-03-02 09:30:15", "0.92", "0.001235", "62"]
    assert parsed[2] == ["2", '\'=HYPERLINK("http://evil","x")', "", "", "0.000000", ""]
    subjects = [row[1] for row in parsed[1:]]
    assert subjects[2:] == [
        "'+1 555 0100",
        "'-2+3",
        "'@SUM(A1:A2)",
        "'\tcmd",
        "'\rcmd",
        "a=b is fine",
        "'x;'=cmd|' /C calc'!A0",
    ]
    assert len(parsed) == len(ROWS) + 1


def test_csv_quotes_every_text_cell_so_no_locale_splits_it_at_a_separator():
    text = "".join(csv_stream(headers=HEADERS, kinds=KINDS, rows=ROWS[8:], block_rows=3))
    header, row = text.splitlines()
    assert header == ",".join(f'"{h}"' for h in HEADERS)
    # the id and the numbers bare; the subject quoted whole, so a ";" reader keeps it one text cell
    assert row == '9,"\'x;\'=cmd|\' /C calc\'!A0","2026-03-02 09:30:15",0.3,"0.000000",1'
    for separator in ";|":
        cells = [c for line in text.splitlines() for c in _split_unquoted(line, separator)]
        assert not any(c.lstrip(" ").startswith(FORMULA_PREFIXES) for c in cells), separator
    empty = "".join(csv_stream(headers=HEADERS, kinds=KINDS, rows=[(1, "", None, None, None, None)]))
    assert empty.splitlines()[1] == '1,"","","","",""'


def _split_unquoted(line: str, separator: str) -> list[str]:
    """How a spreadsheet whose list separator is `separator` cuts a line: not inside quotes."""
    return next(csv.reader([line], delimiter=separator))


def test_csv_is_yielded_in_blocks_and_reports_progress():
    rows = [(i, f"s{i}", None, None, None, None) for i in range(10)]
    seen: list[int] = []
    blocks = list(
        csv_stream(
            headers=HEADERS, kinds=KINDS, rows=rows, block_rows=4, on_progress=seen.append, progress_every=3
        )
    )
    assert len(blocks) == 3  # rows 1-4 (with the header), 5-8, 9-10
    assert blocks[1].count("\n") == 4
    assert seen == [3, 6, 9, 10]


def test_csv_stream_consumes_rows_lazily():
    consumed = 0

    def rows():
        nonlocal consumed
        for i in range(1000):
            consumed += 1
            yield (i, "x", None, None, None, None)

    stream = csv_stream(headers=HEADERS, kinds=KINDS, rows=rows(), block_rows=100)
    next(stream)
    assert consumed == 100  # one block in memory, not the whole export


def test_xlsx_cells_types_and_summary_sheets(tmp_path):
    path = tmp_path / "out.xlsx"
    seen: list[int] = []
    summary = Sheet(
        "Summary", ["Measure", "Value"], [("Tickets", 8), ("=evil", "=1+1"), ("Day", WHEN.date())]
    )
    result = xlsx_write(
        path=path,
        sheet_name="Tickets",
        headers=HEADERS,
        kinds=KINDS,
        rows=ROWS,
        summaries=[summary],
        on_progress=seen.append,
        progress_every=5,
    )
    assert result.rows == len(ROWS) and not result.truncated
    assert seen == [5, 9]
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Tickets", "Summary"]
    ws = book["Tickets"]
    assert [c.value for c in ws[1]] == HEADERS
    assert [c.value for c in ws[2]] == [
        1,
        "Checkout fails",
        datetime(2026, 3, 2, 9, 30, 15),
        0.92,
        0.0012346,
        62,
    ]
    assert ws["C2"].number_format == "yyyy-mm-dd hh:mm:ss"
    assert ws["E2"].number_format == "0.000000"
    assert [c.value for c in ws[3]] == [2, '\'=HYPERLINK("http://evil","x")', None, None, 0, None]
    # XlsxWriter stores a CR as the OOXML escape _x000D_, which Excel decodes and openpyxl does not
    assert [ws.cell(row=r, column=2).value for r in range(4, 11)] == [
        "'+1 555 0100",
        "'-2+3",
        "'@SUM(A1:A2)",
        "'\tcmd",
        "'_x000D_cmd",
        "a=b is fine",
        "'x;'=cmd|' /C calc'!A0",
    ]
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            assert cell.data_type != "f", f"{cell.coordinate} is a formula"
    assert ws.max_row == len(ROWS) + 1
    s = book["Summary"]
    assert [[c.value for c in row] for row in s.iter_rows()] == [
        ["Measure", "Value"],
        ["Tickets", 8],
        ["'=evil", "'=1+1"],
        ["Day", datetime(2026, 3, 2)],
    ]


def test_xlsx_stops_at_the_sheet_row_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(render_module, "XLSX_MAX_ROWS", 4)  # header + 3 rows
    result = xlsx_write(path=tmp_path / "o.xlsx", sheet_name="T", headers=HEADERS, kinds=KINDS, rows=ROWS)
    assert result.rows == 3 and result.truncated
    assert openpyxl.load_workbook(tmp_path / "o.xlsx")["T"].max_row == 4


def test_ticket_columns_have_unique_keys_and_known_kinds():
    keys = [c.key for c in TICKET_COLUMNS]
    assert len(keys) == len(set(keys))
    assert {c.kind for c in TICKET_COLUMNS} <= {"text", "int", "float", "datetime", "seconds", "usd"}
    assert export.TICKET_COLUMN_INDEX["id"] == 0
