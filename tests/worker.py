"""A real Celery worker process for end-to-end tests, sharing the test database and media folder.

Pulled into the suite with `pytest_plugins`. The web side (live_server thread, test body) and the
worker process must agree on three things: the database, the broker and MEDIA_ROOT; this module
points both at the same ones.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from triage.adapters import fsbroker
from triage.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    user = s.get("USER") or "postgres"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


def broker_use(*, url: str, transport_options: dict) -> None:
    """Point this process's Celery app at another broker (the producer pools are rebuilt lazily).

    Celery reads CELERY_BROKER_URL from the environment before its own configuration, so the
    variable has to change too.
    """
    os.environ["CELERY_BROKER_URL"] = url
    celery_app.conf.broker_url = url
    celery_app.conf.broker_transport = fsbroker.TRANSPORT if url.startswith("filesystem") else None
    celery_app.conf.broker_transport_options = transport_options
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@dataclass
class WorkerProcess:
    proc: subprocess.Popen
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _broker_config(kind: str, tmp: Path) -> tuple[str, dict]:
    if kind == "filesystem":
        folder = tmp / "broker"
        options = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
            "polling_interval": 0.1,
        }
        for key in ("data_folder_in", "processed_folder", "control_folder"):
            Path(options[key]).mkdir(parents=True, exist_ok=True)
        return "filesystem://", options
    return os.environ.get("TRIAGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/13"), {"visibility_timeout": 3600}


@pytest.fixture(params=["filesystem", pytest.param("redis", marks=pytest.mark.services)])
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each end-to-end test runs once per broker: the embedded default and Redis (production)."""
    if request.param == "redis" and not settings.SERVICES_AVAILABLE:
        pytest.skip("Redis not reachable")
    previous = (celery_app.conf.broker_url, dict(celery_app.conf.broker_transport_options or {}))
    url, options = _broker_config(request.param, tmp_path)
    broker_use(url=url, transport_options=options)
    with celery_app.connection_for_write() as conn:
        for queue in ("media", "llm", "intake", "reports", "webhooks", "outbound", "handoff"):
            # a queue that does not exist yet has nothing to purge
            with contextlib.suppress(Exception):
                conn.default_channel.queue_purge(queue)
    request.node.broker_env = {"CELERY_BROKER_URL": url, "TRIAGE_BROKER_DIR": str(tmp_path / "broker")}
    yield request.param
    broker_use(url=previous[0], transport_options=previous[1])


@pytest.fixture
def start_worker(request: pytest.FixtureRequest, broker: str, tmp_path: Path, transactional_db: None):
    """Start `celery worker` as a separate OS process; returns a function taking extra env vars."""
    started: list[WorkerProcess] = []

    def _start(queues: str = "media,llm,intake", **extra_env: str) -> WorkerProcess:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_SETTINGS"))},
            "DJANGO_SETTINGS_MODULE": "triage.settings",
            "DATABASE_URL": database_url(),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "TRIAGE_VAR_DIR": str(tmp_path / "worker-var"),
            "TRIAGE_PROVIDER": "local",
            "PYTHONUNBUFFERED": "1",
            # the suite's workers keep the tests' own priority (a shared machine's timings stay as
            # they were); tests/test_priority.py starts one at the production default
            "TRIAGE_WORKER_NICE": "0",
            "TRIAGE_WORKER_SCHED": "nice",
            **request.node.broker_env,
            **extra_env,
        }
        log_path = tmp_path / f"worker-{len(started)}.log"
        log = log_path.open("wb")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "triage",
                "worker",
                "-Q",
                queues,
                "--concurrency",
                "2",
                "--loglevel",
                "INFO",
                "-n",
                f"test{len(started)}@%h",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        worker = WorkerProcess(proc=proc, log_path=log_path, env=env)
        started.append(worker)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if " ready." in worker.log():
                return worker
            if proc.poll() is not None:
                raise AssertionError(f"worker exited early:\n{worker.log()}")
            time.sleep(0.1)
        raise AssertionError(f"worker not ready after 60 s:\n{worker.log()}")

    yield _start
    for worker in started:
        print(f"--- {worker.log_path.name} (tail) ---\n{worker.log()[-4000:]}")  # shown when a test fails
        if worker.proc.poll() is None:
            os.killpg(worker.proc.pid, signal.SIGTERM)
            try:
                worker.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(worker.proc.pid, signal.SIGKILL)
                # a worker at the production default runs at idle priority: on a loaded machine even
                # its exit after SIGKILL waits for CPU (5 s once timed out at a load average of 10)
                worker.proc.wait(timeout=60)


def wait_for(predicate, *, timeout: float = 90.0, interval: float = 0.2, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")
