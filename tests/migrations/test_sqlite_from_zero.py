"""The embedded default (`make run`) migrates a fresh SQLite file from zero.

SQLite rebuilds a table for most schema changes; the rollup triggers name triage_ticket in their
bodies, so a rebuild of triage_ticket fails (and drops the triggers on it) unless the migration
takes them down and makes them again; the status counts' triggers on triage_ticket would go with
the old table, silently. A new migration that forgets this fails here.
"""

from __future__ import annotations

import importlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_fresh_sqlite_database_migrates_to_the_leaf_with_every_trigger(tmp_path):
    db = tmp_path / "fresh.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "DJANGO_SETTINGS_MODULE": "triage.settings"}
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]

    rollups = importlib.import_module("triage.migrations.0013_report_rollups")
    expected = {
        f"report_dirty_{table.removeprefix('triage_')}_{event.lower()}_{'new' if rows == 'new_rows' else 'old'}"
        for table in rollups._PG_DAYS
        for event, transitions in rollups._EVENTS.items()
        for rows in transitions
    }
    # the ticket counts per status (models.TicketStatusCount) are kept by triggers on triage_ticket too
    expected |= set(importlib.import_module("triage.migrations.0028_h18counts").SQLITE_TRIGGERS)
    with sqlite3.connect(db) as conn:
        found = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert expected <= found, sorted(expected - found)
