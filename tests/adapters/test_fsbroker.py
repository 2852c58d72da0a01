"""The embedded broker: a message is either absent or whole, so a polling worker never loses one."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from kombu import Connection
from kombu.transport.virtual import Empty

from triage.adapters import fsbroker
from triage.adapters.broker import filesystem_depths

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The queue's folder; kombu's control files (exchange bindings) go next to it, not into the
    working directory (its default `control_folder` is relative: a run left control/q.exchange in
    the repository)."""
    (tmp_path / "queue").mkdir()
    return tmp_path / "queue"


def _connection(folder: Path, transport: str = fsbroker.TRANSPORT) -> Connection:
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(folder.parent / "control"),
        "polling_interval": 0.0,
    }
    return Connection(transport=transport, transport_options=options)


def test_a_put_leaves_one_whole_message_under_kombus_name_and_nothing_else(folder):
    with _connection(folder) as conn:
        conn.default_channel._put("media", {"body": "x" * 10_000})
        names = [p.name for p in folder.iterdir()]
        assert len(names) == 1 and names[0].endswith(".media.msg"), names
        assert json.loads((folder / names[0]).read_text()) == {"body": "x" * 10_000}
        assert conn.default_channel._get("media") == {"body": "x" * 10_000}
        assert list(folder.iterdir()) == []


def test_a_message_still_being_written_is_neither_taken_nor_counted(folder):
    part = folder / f".{fsbroker.message_name(queue='media')}.part"
    part.write_bytes(b'{"half": ')
    with _connection(folder) as conn, pytest.raises(Empty):
        conn.default_channel._get("media")
    assert part.exists()
    [depth] = filesystem_depths(folder=folder, queues=["media"])
    assert depth.waiting == 0


def test_a_worker_polling_while_messages_are_written_receives_every_one_intact(folder):
    # kombu's own transport lost 5-199 of 3,000 this way on this machine (a worker polling mid-write)
    count = 2000
    received: list[int] = []
    errors: list[str] = []

    def produce() -> None:
        with _connection(folder) as conn:
            for i in range(count):
                conn.default_channel._put("q", {"i": i})

    producer = threading.Thread(target=produce)
    producer.start()
    with _connection(folder) as conn:
        channel = conn.default_channel
        deadline = time.monotonic() + 120
        while len(received) + len(errors) < count and time.monotonic() < deadline:
            try:
                message = channel._get("q")
            except Exception as exc:  # noqa: BLE001 - Empty, or the decode error a torn message raises
                if type(exc).__name__ != "Empty":
                    errors.append(repr(exc))
                continue
            received.append(message["i"])
    producer.join()
    assert errors == []
    assert sorted(received) == list(range(count))


def test_the_embedded_default_uses_it_and_redis_does_not(tmp_path):
    script = (
        "import django; django.setup(); from triage.celery import app; "
        "c = app.connection_for_write(); print(type(c.transport).__module__)"
    )
    base = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "triage.settings", "HOME": "/tmp",
            "TRIAGE_VAR_DIR": str(tmp_path)}  # fmt: skip

    def module(**env: str) -> str:
        out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=base | env, capture_output=True,
                             text=True, timeout=60)  # fmt: skip
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    assert module() == "triage.adapters.fsbroker"
    assert module(CELERY_BROKER_URL="redis://127.0.0.1:6379/0") == "kombu.transport.redis"
