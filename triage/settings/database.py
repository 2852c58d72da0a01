"""The database: DATABASE_URL, else a SQLite file under TRIAGE_VAR_DIR."""

from __future__ import annotations

from triage.settings.base import VAR_DIR, env

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'triage.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets the web process read while a worker writes; the timeout rides out short write locks.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # The report indexes' INCLUDE columns make PostgreSQL's dashboard counts index-only scans;
    # SQLite keeps their key columns and ignores the rest, which is all W040 says.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
