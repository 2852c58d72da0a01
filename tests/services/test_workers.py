"""Worker heartbeats and every queue's depth and oldest job, on both brokers (services/workers.py,
adapters/broker.py)."""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from triage.adapters.broker import filesystem_depths, redis_depths
from triage.celery import _stamp_sent_at
from triage.models import WorkerHeartbeat
from triage.services.workers import queue_health_list, worker_heartbeat_write

pytestmark = pytest.mark.django_db
REDIS_URL = os.environ.get("TRIAGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
QUEUES = ("media", "llm", "intake", "reports", "outbound", "webhooks", "handoff")


def test_a_queue_is_alive_until_its_workers_miss_n_beats(settings, tmp_path):
    settings.TRIAGE_HEARTBEAT_EVERY_S, settings.TRIAGE_HEARTBEAT_MISSED = 10, 3
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path)}
    now = timezone.now()
    start = now - timedelta(hours=1)
    worker_heartbeat_write(queues=["media", "intake"], hostname="media@a", pid=1, started_at=start, now=now)
    worker_heartbeat_write(
        queues=["llm"], hostname="llm@a", pid=2, started_at=start, now=now - timedelta(seconds=29)
    )
    worker_heartbeat_write(
        queues=["llm"], hostname="llm@b", pid=3, started_at=start, now=now - timedelta(seconds=31)
    )
    worker_heartbeat_write(
        queues=["outbound"], hostname="out@a", pid=4, started_at=start, now=now - timedelta(seconds=31)
    )
    worker_heartbeat_write(
        queues=["media"], hostname="media@a", pid=1, started_at=start, now=now
    )  # an update
    assert WorkerHeartbeat.objects.filter(hostname="media@a").count() == 2

    rows = {q.name: q for q in queue_health_list(now=now)}
    assert list(rows) == list(QUEUES)  # every queue, not only two
    assert rows["media"].alive and rows["media"].workers_alive == 1 and rows["intake"].alive
    assert rows["llm"].alive and rows["llm"].workers_alive == 1  # llm@b missed three beats
    assert not rows["outbound"].alive and rows["outbound"].last_beat_at == now - timedelta(seconds=31)
    assert not rows["handoff"].alive and rows["handoff"].last_beat_at is None
    assert rows["media"].waiting == 0 and rows["media"].oldest_age_s is None


def test_filesystem_broker_counts_and_ages_every_queue(tmp_path):
    now = time.time()
    for queue, ages in {"media": [5, 120], "reports": [30], "other": [999]}.items():
        for age in ages:
            path = tmp_path / f"{int(time.monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
            path.write_text("{}")
            os.utime(path, (now - age, now - age))
    depths = {d.queue: d for d in filesystem_depths(folder=tmp_path, queues=QUEUES, now=now)}
    assert depths["media"].waiting == 2 and depths["media"].oldest_age_s == pytest.approx(120, abs=1)
    assert depths["reports"].waiting == 1 and depths["reports"].oldest_age_s == pytest.approx(30, abs=1)
    assert depths["llm"].waiting == 0 and depths["llm"].oldest_age_s is None
    assert "other" not in depths


def test_redis_broker_counts_and_ages_every_queue_from_the_publish_stamp():
    redis_url = REDIS_URL
    prefix = f"t{uuid.uuid4().hex[:6]}-"
    queues = [prefix + q for q in ("media", "llm", "reports")]
    client = redis.Redis.from_url(redis_url)
    now = time.time()
    try:
        for sent in (now - 300, now - 20):  # kombu LPUSHes: the oldest ends at the right
            headers: dict[str, object] = {"task": "x"}
            _stamp_sent_at(headers=headers)
            headers["triage_sent_at"] = sent
            client.lpush(queues[0], json.dumps({"body": "", "headers": headers, "properties": {}}))
        client.lpush(queues[1], json.dumps({"body": "", "headers": {"task": "old"}, "properties": {}}))
        depths = {d.queue: d for d in redis_depths(url=redis_url, queues=queues, now=now)}
    finally:
        client.delete(*queues)
        client.close()
    assert depths[queues[0]].waiting == 2 and depths[queues[0]].oldest_age_s == pytest.approx(300)
    assert depths[queues[1]].waiting == 1 and depths[queues[1]].oldest_age_s is None  # no stamp: unknown
    assert depths[queues[2]].waiting == 0


def test_every_published_task_is_stamped():
    headers: dict[str, object] = {}
    before = time.time()
    _stamp_sent_at(headers=headers)
    assert before <= headers["triage_sent_at"] <= time.time()


def test_a_worker_beats_for_the_queues_it_consumes():
    from types import SimpleNamespace

    from triage.celery import _consumed_queues

    queues = SimpleNamespace(consume_from={"media": object(), "intake": object(), "reports": object()})
    consumer = SimpleNamespace(app=SimpleNamespace(amqp=SimpleNamespace(queues=queues)))
    assert _consumed_queues(consumer) == ["intake", "media", "reports"]
    fallback = SimpleNamespace(task_consumer=SimpleNamespace(queues=[SimpleNamespace(name="llm")]))
    assert _consumed_queues(fallback) == ["llm"]


def test_the_sweep_deletes_heartbeats_of_workers_gone_a_week(settings, tmp_path):
    from triage.services.sweep import sweep_run

    now = timezone.now()
    start = now - timedelta(days=30)
    worker_heartbeat_write(
        queues=["media"], hostname="media@old", pid=1, started_at=start, now=now - timedelta(days=8)
    )
    worker_heartbeat_write(
        queues=["media"], hostname="media@new", pid=2, started_at=start, now=now - timedelta(days=6)
    )
    sweep_run(now=now)
    assert sorted(WorkerHeartbeat.objects.values_list("hostname", flat=True)) == ["media@new"]
