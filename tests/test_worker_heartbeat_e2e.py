"""A real worker's heartbeat and a real queued job, on both brokers: the health page's liveness and
"oldest job" come from what the worker and the broker really do (services/workers.py)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from triage.celery import app as celery_app
from triage.models import WorkerHeartbeat
from triage.services.workers import queue_health_list

pytestmark = pytest.mark.django_db(transaction=True)


def _wait(predicate, timeout: float = 30.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_a_worker_beats_per_queue_and_reads_dead_once_killed(start_worker, settings):
    settings.CELERY_BROKER_URL = celery_app.conf.broker_url
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = dict(celery_app.conf.broker_transport_options or {})
    settings.TRIAGE_HEARTBEAT_EVERY_S, settings.TRIAGE_HEARTBEAT_MISSED = 1, 3
    # a job on a queue nobody consumes: counted, with its age
    celery_app.send_task("triage.tasks.handoff_sweep_task", queue="handoff")
    worker = start_worker(queues="reports,outbound", TRIAGE_HEARTBEAT_EVERY_S="1")
    _wait(lambda: WorkerHeartbeat.objects.filter(queue__in=["reports", "outbound"]).count() == 2)
    first = WorkerHeartbeat.objects.get(queue="reports").beat_at
    _wait(lambda: WorkerHeartbeat.objects.get(queue="reports").beat_at > first)  # it keeps beating
    time.sleep(1.5)
    rows = {q.name: q for q in queue_health_list()}
    assert rows["reports"].alive and rows["outbound"].alive and not rows["llm"].alive
    assert rows["handoff"].waiting == 1 and rows["handoff"].oldest_age_s is not None
    assert rows["handoff"].oldest_age_s >= 1 and not rows["handoff"].alive

    os.killpg(worker.proc.pid, signal.SIGKILL)
    worker.proc.wait(timeout=10)
    time.sleep(3.5)  # more than three missed beats
    rows = {q.name: q for q in queue_health_list()}
    assert not rows["reports"].alive and not rows["outbound"].alive
