"""The migration that moves the sweep's control state out of JSON: values that rows hold before it
land in the new columns, the JSON keeps only what is shown, and the reverse puts them back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("triage", "0011_reports_indexes")]
AFTER = [("triage", "0012_sweep_columns")]
SWEPT = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)


def _migrate(targets: list[tuple[str, str]]):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_sweep_counts_and_run_flags_move_from_json_to_columns_and_back():
    old = _migrate(BEFORE)
    try:
        ticket = old.get_model("triage", "Ticket").objects.create(subject="s", description="d")
        attachment = old.get_model("triage", "Attachment").objects.create(
            ticket=ticket,
            kind="IMAGE",
            sha256="0" * 64,
            file="a.png",
            mime="image/png",
            size_bytes=1,
            metadata={"sweeps": 2, "swept_at": SWEPT.timestamp(), "width_note": "kept"},
        )
        email = old.get_model("triage", "InboundEmail").objects.create(
            dedupe_key="k", raw="r.eml", sha256="0" * 64, size_bytes=1, details={"sweeps": 1}
        )
        run = old.get_model("triage", "TriageRun").objects.create(
            ticket=ticket,
            provider="local",
            model="",
            details={"provisional": True, "catch_up": True, "instead_of": "kimi"},
        )
        untouched = old.get_model("triage", "TriageRun").objects.create(
            ticket=ticket, provider="kimi", model="k", details={"trace_id": "t"}
        )

        new = _migrate(AFTER)
        a = new.get_model("triage", "Attachment").objects.get(id=attachment.id)
        assert (a.sweeps, a.swept_at, a.metadata) == (2, SWEPT, {"width_note": "kept"})
        e = new.get_model("triage", "InboundEmail").objects.get(id=email.id)
        assert (e.sweeps, e.swept_at, e.details) == (1, None, {})
        r = new.get_model("triage", "TriageRun").objects.get(id=run.id)
        assert (r.provisional, r.catch_up, r.details) == (True, True, {"instead_of": "kimi"})
        u = new.get_model("triage", "TriageRun").objects.get(id=untouched.id)
        assert (u.provisional, u.catch_up, u.details) == (False, False, {"trace_id": "t"})

        back = _migrate(BEFORE)
        assert back.get_model("triage", "Attachment").objects.get(id=attachment.id).metadata == {
            "width_note": "kept",
            "sweeps": 2,
            "swept_at": SWEPT.timestamp(),
        }
        assert back.get_model("triage", "TriageRun").objects.get(id=run.id).details == {
            "instead_of": "kimi",
            "provisional": True,
            "catch_up": True,
        }
    finally:
        _migrate(executor_leaf())


def executor_leaf() -> list[tuple[str, str]]:
    """Every app at its latest migration: the database as the other tests expect it."""
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()
