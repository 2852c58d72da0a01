"""Export rendering: rows of plain values in, CSV text or an XLSX file out. No ORM, no settings.

The columns are declared once here; the selector yields tuples in this order, so rendering a row is
a loop over values without a lookup per cell (that is what keeps the CSV at >50K rows/s).
"""

from __future__ import annotations

from dataclasses import dataclass

from triage.adapters.export.render import (  # noqa: I001
    FORMULA_PREFIXES,
    XLSX_MAX_ROWS,
    csv_stream,
    csv_writer,
    neutralize,
    neutralize_sql,
    xlsx_write,
)


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: str = "text"  # text | int | float | datetime | seconds | usd


CLASSIFIED_FIELDS = ("category", "priority", "queue", "sentiment", "language")


def _ticket_columns() -> tuple[Column, ...]:
    cols = [
        Column("id", "Ticket id", "int"),
        Column("reference", "Reference"),
        Column("url", "Link"),
        Column("created_at", "Created (UTC)", "datetime"),
        Column("channel", "Channel"),
        Column("status", "Status"),
        Column("requester_email", "Requester"),
        Column("subject", "Subject"),
        Column("summary", "Summary"),
    ]
    for name in CLASSIFIED_FIELDS:
        cols += [
            Column(f"proposed_{name}", f"Proposed {name}"),
            Column(f"confidence_{name}", f"Confidence {name}", "float"),
            Column(f"final_{name}", f"Final {name}"),
        ]
    cols += [
        Column("fields_corrected", "Fields corrected", "int"),
        Column("confidence", "Lowest confidence", "float"),
        Column("reviewer", "Reviewer"),
        Column("triaged_at", "Triaged (UTC)", "datetime"),
        Column("reviewed_at", "Reviewed (UTC)", "datetime"),
        Column("updated_at", "Updated (UTC)", "datetime"),
        Column("arrival_to_triaged_s", "Arrival to triaged (s)", "seconds"),
        Column("triaged_to_reviewed_s", "Triaged to reviewed (s)", "seconds"),
        Column("provider", "Provider"),
        Column("model", "Model"),
        Column("failure_kind", "Failure kind"),
        Column("runs", "Model runs", "int"),
        Column("failed_runs", "Failed runs", "int"),
        Column("prompt_tokens", "Prompt tokens", "int"),
        Column("cached_tokens", "Cached tokens", "int"),
        Column("completion_tokens", "Completion tokens", "int"),
        Column("cost_usd", "Cost (USD)", "usd"),
        Column("attachments", "Attachments", "int"),
        Column("images", "Images", "int"),
        Column("videos", "Videos", "int"),
        Column("rejected_attachments", "Rejected attachments", "int"),
    ]
    return tuple(cols)


TICKET_COLUMNS: tuple[Column, ...] = _ticket_columns()
TICKET_COLUMN_INDEX = {c.key: i for i, c in enumerate(TICKET_COLUMNS)}

__all__ = [
    "CLASSIFIED_FIELDS",
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
