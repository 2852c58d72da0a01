"""The ticket export's columns, each declared once: its header, its kind, its Python getter and its
PostgreSQL expression. Adding a column is one `Column(...)` line here (and a `Source` if it reads a
value no column reads yet). Pure: no ORM, no settings; the SQL names the tables by alias only.

Both export paths read the same per-ticket values, the SOURCES, from one statement over
    t  the ticket            lr the latest model run     u  the reviewer (auth user)
    r  the ticket's run totals (runs, failed_runs, prompt_tokens, cached_tokens, completion_tokens, cost)
    a  its attachment counts (attachments, images, videos, rejected)
(services/export_engine.py writes the FROM clause). Then
- the row path (XLSX, and CSV off PostgreSQL) selects the sources, and `row_function()` turns each
  fetched tuple into the export row with every column's `get`, a Python expression over the
  source names (timestamps arrive as datetimes; `base` is the public URL);
- the COPY path has PostgreSQL compute every column's `sql`, an expression over the same names,
  which the engine then renders the way csv_stream renders the column's kind.

Besides the sources, both kinds of expression may use, per classified field n, `cur_n` (the
ticket's value), `p_n` (the proposed value, '' if none), `c_n` (its confidence), and `is_reviewed`,
`has_result` (booleans). tests/services/test_reports.py checks the two paths agree cell for cell.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from triage.fields import CLASSIFIED_FIELDS


@dataclass(frozen=True)
class Source:
    """One value read per ticket, under `name` in both paths."""

    name: str
    sql: str
    stamp: bool = False  # a timestamp: the row path reads it as UTC epoch seconds (see the engine)


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: str = "text"  # text | int | float | datetime | seconds | usd
    get: str = ""  # Python expression; default: the source named like the key
    sql: str = ""  # PostgreSQL expression; default: the source named like the key
    # never empty nor a formula: the COPY path writes the text as it is (the row path's
    # csv_stream neutralizes every text cell anyway)
    plain: bool = False

    @property
    def py(self) -> str:
        return self.get or self.key

    @property
    def pg(self) -> str:
        return self.sql or self.key


SOURCES: tuple[Source, ...] = (
    Source("id", "t.id"),
    Source("created_at", "t.created_at", stamp=True),
    Source("channel", "t.channel"),
    Source("status", "t.status"),
    Source("requester_email", "t.requester_email"),
    Source("subject", "t.subject"),
    Source("summary", "t.summary"),
    *(Source(f"cur_{n}", f"t.{n}") for n in CLASSIFIED_FIELDS),
    Source("confidence", "t.confidence"),
    Source("triaged_at", "t.triaged_at", stamp=True),
    Source("reviewed_at", "t.reviewed_at", stamp=True),
    Source("updated_at", "t.updated_at", stamp=True),
    Source("reviewer", "u.username"),
    Source("provider", "lr.provider"),
    Source("model", "lr.model"),
    Source("failure_kind", "lr.error_kind"),
    Source("runs", "r.runs"),
    Source("failed_runs", "r.failed_runs"),
    Source("prompt_tokens", "r.prompt_tokens"),
    Source("cached_tokens", "r.cached_tokens"),
    Source("completion_tokens", "r.completion_tokens"),
    Source("cost", "r.cost"),
    Source("attachments", "a.attachments"),
    Source("images", "a.images"),
    Source("videos", "a.videos"),
    Source("rejected", "a.rejected"),
)


def _per_field(n: str) -> tuple[Column, ...]:
    return (
        Column(f"proposed_{n}", f"Proposed {n}", get=f"p_{n}", sql=f"p_{n}"),
        Column(f"confidence_{n}", f"Confidence {n}", "float", get=f"c_{n}", sql=f"c_{n}"),
        Column(
            f"final_{n}",
            f"Final {n}",
            get=f'cur_{n} if is_reviewed else ""',
            sql=f"CASE WHEN is_reviewed THEN cur_{n} ELSE '' END",
        ),  # fmt: skip
    )


def _corrected(changed: Callable[[str], str], join: str) -> str:
    return join.join(changed(n) for n in CLASSIFIED_FIELDS)


_CORRECTED_PY = "0 + " + _corrected(lambda n: f"(cur_{n} != p_{n} if p_{n} else False)", " + ")
_CORRECTED_PG = _corrected(lambda n: f"(CASE WHEN p_{n} <> '' AND cur_{n} <> p_{n} THEN 1 ELSE 0 END)", " + ")

TICKET_COLUMNS: tuple[Column, ...] = (
    Column("id", "Ticket id", "int"),
    Column("reference", "Reference", get='f"TRI-{id}"', sql="'TRI-' || id", plain=True),
    # the url's only user part, the base, is a parameter the engine has neutralized
    Column("url", "Link", get='f"{base}/tickets/{id}/"', sql="%s || '/tickets/' || id || '/'", plain=True),
    Column("created_at", "Created (UTC)", "datetime"),
    Column("channel", "Channel"),
    Column("status", "Status"),
    Column("requester_email", "Requester"),
    Column("subject", "Subject"),
    Column("summary", "Summary"),
    *(column for n in CLASSIFIED_FIELDS for column in _per_field(n)),
    Column(
        "fields_corrected",
        "Fields corrected",
        "int",
        get=f"({_CORRECTED_PY}) if is_reviewed and has_result else None",
        sql=f"CASE WHEN is_reviewed AND has_result THEN {_CORRECTED_PG} END",
    ),
    Column("confidence", "Lowest confidence", "float"),
    Column("reviewer", "Reviewer", get='reviewer or ""'),
    Column("triaged_at", "Triaged (UTC)", "datetime"),
    Column("reviewed_at", "Reviewed (UTC)", "datetime"),
    Column("updated_at", "Updated (UTC)", "datetime"),
    Column(
        "arrival_to_triaged_s",
        "Arrival to triaged (s)",
        "seconds",
        get="(triaged_at - created_at).total_seconds() if triaged_at and created_at else None",
        sql="EXTRACT(EPOCH FROM triaged_at - created_at)::float8",
    ),
    Column(
        "triaged_to_reviewed_s",
        "Triaged to reviewed (s)",
        "seconds",
        get="(reviewed_at - triaged_at).total_seconds() if reviewed_at and triaged_at else None",
        sql="EXTRACT(EPOCH FROM reviewed_at - triaged_at)::float8",
    ),
    Column("provider", "Provider", get='provider or ""'),
    Column("model", "Model", get='model or ""'),
    Column("failure_kind", "Failure kind", get='failure_kind or ""'),
    Column("runs", "Model runs", "int", get="runs or 0", sql="COALESCE(runs, 0)"),
    Column("failed_runs", "Failed runs", "int", get="failed_runs or 0", sql="COALESCE(failed_runs, 0)"),
    Column(
        "prompt_tokens", "Prompt tokens", "int", get="prompt_tokens or 0", sql="COALESCE(prompt_tokens, 0)"
    ),
    Column(
        "cached_tokens", "Cached tokens", "int", get="cached_tokens or 0", sql="COALESCE(cached_tokens, 0)"
    ),
    Column(
        "completion_tokens",
        "Completion tokens",
        "int",
        get="completion_tokens or 0",
        sql="COALESCE(completion_tokens, 0)",
    ),
    Column("cost_usd", "Cost (USD)", "usd", get="float(cost or 0.0)", sql="COALESCE(cost, 0)"),
    Column("attachments", "Attachments", "int", get="attachments or 0", sql="COALESCE(attachments, 0)"),
    Column("images", "Images", "int", get="images or 0", sql="COALESCE(images, 0)"),
    Column("videos", "Videos", "int", get="videos or 0", sql="COALESCE(videos, 0)"),
    Column(
        "rejected_attachments",
        "Rejected attachments",
        "int",
        get="rejected or 0",
        sql="COALESCE(rejected, 0)",
    ),
)
TICKET_COLUMN_INDEX = {c.key: i for i, c in enumerate(TICKET_COLUMNS)}

RowFunction = Callable[[tuple, str, frozenset[str]], tuple]


def row_function(columns: tuple[Column, ...] = TICKET_COLUMNS) -> RowFunction:
    """`row(fetched, base, reviewed_status) -> export row` for a tuple of the SOURCES (timestamps
    as epoch seconds) followed by the latest run's result (a dict, JSON text or None).

    Compiled once from the getters into one function body: a lambda per cell would cost a call
    each, ~2 us a row of the ~5 us this takes (a million-row XLSX is bound by it)."""
    per_field = "\n".join(
        f"    _g = result.get({n!r}) or {{}}\n    p_{n} = _g.get('value', '')\n    c_{n} = _g.get('confidence')"
        for n in CLASSIFIED_FIELDS
    )
    stamps = "\n".join(f"    {s.name} = _utc({s.name})" for s in SOURCES if s.stamp)
    cells = ",\n        ".join(f"{c.py}" for c in columns)
    code = f"""
def row(fetched, base, reviewed_status):
    ({", ".join(s.name for s in SOURCES)}, result) = fetched
{stamps}
    if isinstance(result, str):  # SQLite hands JSON back as text
        result = _loads(result)
    result = result or {{}}
    has_result = bool(result)
    is_reviewed = status in reviewed_status
{per_field}
    return (
        {cells},
    )
"""
    import json
    from datetime import UTC, datetime

    def _utc(epoch: float | None) -> datetime | None:
        return None if epoch is None else datetime.fromtimestamp(epoch, UTC)

    namespace: dict[str, Any] = {"_utc": _utc, "_loads": json.loads}
    exec(compile(code, "<export row>", "exec"), namespace)  # noqa: S102 - our own declarations only
    return namespace["row"]


def copy_select(*, reviewed_states: frozenset[str]) -> tuple[list[str], list[str]]:
    """(inner, outer) select lists of the COPY path: the inner reads each source once (one jsonb
    lookup per proposed field), the outer computes each column's `sql`, unformatted (the engine
    formats it by kind). `reviewed_states` are Ticket.Status values (identifiers)."""
    if not all(s.isidentifier() for s in reviewed_states):
        raise ValueError("a status must be an identifier")
    states = ", ".join(f"'{s}'" for s in sorted(reviewed_states))
    inner = [f"{s.sql} AS {s.name}" for s in SOURCES]
    inner += [
        "(lr.result IS NOT NULL AND lr.result <> '{}'::jsonb) AS has_result",
        f"t.status IN ({states}) AS is_reviewed",
    ]
    for n in CLASSIFIED_FIELDS:
        inner += [
            f"COALESCE(lr.result -> '{n}' ->> 'value', '') AS p_{n}",
            f"(lr.result -> '{n}' ->> 'confidence')::float8 AS c_{n}",
        ]
    return inner, [c.pg for c in TICKET_COLUMNS]
