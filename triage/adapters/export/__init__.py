"""Export rendering: rows of plain values in, CSV text or an XLSX file out. No ORM, no settings.

The columns are declared once, in columns.py; the engine yields tuples in that order, so rendering a
row is a loop over values without a lookup per cell (that is what keeps the CSV at >50K rows/s).
"""

from __future__ import annotations

from triage.adapters.export.columns import TICKET_COLUMN_INDEX, TICKET_COLUMNS, Column
from triage.adapters.export.render import (  # noqa: I001
    FORMULA_PREFIXES,
    XLSX_MAX_ROWS,
    csv_stream,
    csv_writer,
    neutralize,
    neutralize_sql,
    xlsx_write,
)

__all__ = [
    "FORMULA_PREFIXES",
    "TICKET_COLUMNS",
    "TICKET_COLUMN_INDEX",
    "XLSX_MAX_ROWS",
    "Column",
    "csv_stream",
    "csv_writer",
    "neutralize",
    "neutralize_sql",
    "xlsx_write",
]
