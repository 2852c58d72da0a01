"""CSV and XLSX rendering of rows of plain values (str, int, float, datetime, None).

Both renderers keep memory flat: the CSV is yielded in blocks of a few hundred rows, and XlsxWriter
in constant_memory mode flushes each row to a temporary file as soon as the next one starts.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import xlsxwriter

# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection"); a
# leading apostrophe makes it text again in Excel, LibreOffice and Google Sheets.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# ...and Excel splits a line at the list separator of its locale (";" in much of Europe, "|" in
# some setups) even inside a comma file's quoted cell, so `x;=cmd|...` starts a formula in a cell of
# its own. OWASP's rule: a formula must not be able to start anywhere a reader may start a cell.
# So a cell where one could (at its start, or after a separator and optional spaces) is prefixed
# with an apostrophe, each such separator is followed by one too (whatever the reader's separator,
# the cell it starts is text), and every text cell is quoted (csv_writer). neutralize_sql gives
# PostgreSQL's COPY export the same bytes (its regex engine reads these patterns alike).
FORMULA_PATTERN = r"^[-=+@\t\r]|[,;|] *[-=+@\t\r]"
_FORMULA = re.compile(FORMULA_PATTERN)
_INNER_FORMULA = re.compile(r"([,;|] *)(?=[-=+@\t\r])")
XLSX_MAX_ROWS = 1_048_576  # Excel's hard limit, header included

Progress = Callable[[int], None]


def neutralize(value: str) -> str:
    if not _FORMULA.search(value):
        return value
    return "'" + _INNER_FORMULA.sub(r"\1'", value)


def neutralize_sql(column: str) -> str:
    """`neutralize` as a PostgreSQL expression over a text column (NULL stays NULL). The patterns
    hold no quote, so they are plain SQL literals; the replacement is \1 then an apostrophe."""
    inner = f"regexp_replace({column}, '{_INNER_FORMULA.pattern}', '\\1''', 'g')"
    return f"CASE WHEN {column} ~ '{FORMULA_PATTERN}' THEN chr(39) || {inner} ELSE {column} END"


def csv_writer(buffer: IO[str]) -> Any:
    """The one CSV dialect of every export: text and timestamps always quoted (so a reader never
    splits a cell at a separator inside it), an empty cell as "", numbers bare, lines ending in
    LF (what PostgreSQL's COPY writes, so both export paths give the same bytes)."""
    return csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")


def _csv_converter(kinds: Sequence[str]) -> Callable[[Sequence[Any]], Sequence[Any]]:
    """A per-row function touching only the cells that need it: csv already writes None as an
    empty field and numbers with str(), so int and float columns pass through untouched."""
    text = [i for i, k in enumerate(kinds) if k == "text"]
    stamps = [i for i, k in enumerate(kinds) if k == "datetime"]
    seconds = [i for i, k in enumerate(kinds) if k == "seconds"]
    usd = [i for i, k in enumerate(kinds) if k == "usd"]
    search = _FORMULA.search

    def convert(row: Sequence[Any]) -> Sequence[Any]:
        out = list(row)
        for i in text:
            v = out[i]
            if v and search(v):
                out[i] = neutralize(v)
        for i in stamps:
            v = out[i]
            if v is not None:
                out[i] = v.isoformat(sep=" ", timespec="seconds")[:19]  # UTC, as the header says
        for i in seconds:
            v = out[i]
            if v is not None:
                out[i] = round(v)
        for i in usd:
            v = out[i]
            if v is not None:
                out[i] = f"{v:.6f}"
        return out

    return convert


def csv_stream(
    *,
    headers: Sequence[str],
    kinds: Sequence[str],
    rows: Iterable[Sequence[Any]],
    block_rows: int = 500,
    on_progress: Progress | None = None,
    progress_every: int = 5000,
) -> Iterator[str]:
    """Yield the CSV in blocks of `block_rows` rows (a few tens of KB each)."""
    convert = _csv_converter(kinds)
    buffer = io.StringIO()
    writer = csv_writer(buffer)
    writer.writerow([neutralize(h) for h in headers])
    count = 0
    for row in rows:
        writer.writerow(convert(row))
        count += 1
        if count % block_rows == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        if on_progress is not None and count % progress_every == 0:
            on_progress(count)
    yield buffer.getvalue()
    if on_progress is not None:
        on_progress(count)


@dataclass(frozen=True)
class Sheet:
    """A small table written before the rows: the summary sheets of a report."""

    name: str
    headers: Sequence[str]
    rows: Sequence[Sequence[Any]]


@dataclass(frozen=True)
class XlsxResult:
    rows: int
    truncated: bool


def _xlsx_writer(ws: Any, kind: str, fmt: dict[str, Any]) -> Callable[[int, int, Any], None]:
    if kind == "text":
        return lambda r, c, v: ws.write_string(r, c, neutralize(v))
    if kind == "datetime":
        return lambda r, c, v: ws.write_datetime(r, c, v, fmt["datetime"])
    if kind == "usd":
        return lambda r, c, v: ws.write_number(r, c, v, fmt["usd"])
    if kind == "seconds":
        return lambda r, c, v: ws.write_number(r, c, round(v))
    return ws.write_number


def xlsx_write(
    *,
    path: Path | str | IO[bytes],
    sheet_name: str,
    headers: Sequence[str],
    kinds: Sequence[str],
    rows: Iterable[Sequence[Any]],
    summaries: Sequence[Sheet] = (),
    on_progress: Progress | None = None,
    progress_every: int = 5000,
) -> XlsxResult:
    workbook = xlsxwriter.Workbook(
        str(path) if isinstance(path, Path) else path,  # a path, or a file opened for binary writing
        {
            "constant_memory": True,
            "remove_timezone": True,  # datetimes are UTC; the headers say so
            # never turn text into formulas, links (65,530 per sheet at most) or numbers
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    bold = workbook.add_format({"bold": True})
    fmt = {
        "datetime": workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
        "date": workbook.add_format({"num_format": "yyyy-mm-dd"}),
        "usd": workbook.add_format({"num_format": "0.000000"}),
    }
    ws = workbook.add_worksheet(sheet_name)
    for sheet in summaries:
        _write_small_sheet(workbook.add_worksheet(sheet.name[:31]), sheet, bold, fmt)

    for col, header in enumerate(headers):
        ws.write_string(0, col, neutralize(header), bold)
    ws.freeze_panes(1, 0)
    writers = [_xlsx_writer(ws, kind, fmt) for kind in kinds]
    count, truncated = 0, False
    for row in rows:
        if count + 1 >= XLSX_MAX_ROWS:
            truncated = True
            break
        count += 1
        for col, (write, value) in enumerate(zip(writers, row, strict=True)):
            if value is not None and value != "":
                write(count, col, value)
        if on_progress is not None and count % progress_every == 0:
            on_progress(count)
    if on_progress is not None:
        on_progress(count)
    ws.autofilter(0, 0, count, max(len(headers) - 1, 0))
    workbook.close()
    return XlsxResult(rows=count, truncated=truncated)


def _write_small_sheet(ws: Any, sheet: Sheet, bold: Any, fmt: dict[str, Any]) -> None:
    for col, header in enumerate(sheet.headers):
        ws.write_string(0, col, neutralize(str(header)), bold)
    for r, row in enumerate(sheet.rows, start=1):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, str):
                ws.write_string(r, c, neutralize(value))
            elif isinstance(value, date):
                ws.write_datetime(r, c, value, fmt["datetime" if isinstance(value, datetime) else "date"])
            else:
                ws.write_number(r, c, value)
    # frozen bold header and an autofilter, like the ticket rows, so each summary sorts in Excel
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(len(sheet.rows), 1), max(len(sheet.headers) - 1, 0))
