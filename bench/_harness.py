"""What the benchmark scripts share: their JSON output line, the server and worker processes they
start and must always stop, their scratch PostgreSQL database and their Redis database.

A script imports it after putting the checkout on the import path (`sys.path.insert(0, ROOT)`):
`from bench._harness import emit, ...`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

PG_SERVER = "postgres://postgres@127.0.0.1:5432"


def emit(metric: str, value: float, unit: str, goal: str | None = None, **extra: object) -> None:
    """One figure as one JSON line on stdout: {"metric", "value", "unit", "goal"?, ...extra}; the goal
    only on a figure that has one."""
    row: dict[str, object] = {"metric": metric, "value": round(value, 3), "unit": unit}
    if goal is not None:
        row["goal"] = goal
    print(json.dumps({**row, **extra}), flush=True)


# ---- processes ---------------------------------------------------------------------------------


def start_process_group(command: Sequence[str], **popen: object) -> subprocess.Popen:
    """Start `command` in its own session and process group, so that stopping it stops the children
    it forks too (gunicorn's and celery's workers)."""
    return subprocess.Popen(list(command), start_new_session=True, **popen)  # type: ignore[call-overload]


def stop_process_group(process: subprocess.Popen, *, timeout: float = 30) -> None:
    """SIGTERM to the process's group if it still runs, then SIGKILL if it has not ended in `timeout`."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)
    except ProcessLookupError:
        pass


@contextmanager
def process_group(command: Sequence[str], **popen: object) -> Iterator[subprocess.Popen]:
    """`start_process_group` for the block; the group is stopped however the block ends."""
    process = start_process_group(command, **popen)
    try:
        yield process
    finally:
        stop_process_group(process)


# ---- PostgreSQL --------------------------------------------------------------------------------


def create_database(name: str, *, server: str = PG_SERVER) -> str:
    """Create the database `name` on `server` (a postgres:// URL without a database); its URL."""
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


def drop_database(name: str, *, server: str = PG_SERVER) -> None:
    """Close this process's Django connections (if Django is set up) and drop the database `name`,
    whoever else is still connected to it."""
    if "django.apps" in sys.modules and sys.modules["django.apps"].apps.ready:
        from django.db import connections

        connections.close_all()
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def bench_database(name: str, *, server: str = PG_SERVER) -> Iterator[str]:
    """A scratch database for the block (its URL), dropped however the block ends."""
    url = create_database(name, server=server)
    try:
        yield url
    finally:
        drop_database(name, server=server)


# ---- Redis -------------------------------------------------------------------------------------


def redis_url(default_db: int, *, variable: str = "TRIAGE_BENCH_REDIS_DB") -> str:
    """The local Redis database the bench uses: the number in the environment `variable`, else
    `default_db` (each script keeps its own default, so two benches can run side by side)."""
    return f"redis://127.0.0.1:6379/{os.environ.get(variable, str(default_db))}"


def flush_redis(url: str, *, check: bool = True) -> None:
    """Empty the Redis database at `url` (in a child process, as the scripts always did)."""
    command = [sys.executable, "-c", "import redis,sys; redis.Redis.from_url(sys.argv[1]).flushdb()", url]
    subprocess.run(command, check=check)
