"""Fault injection for the resilience tests: a TCP proxy that can cut the database away, a
throwaway Redis server that can be restarted, and a production-shaped gunicorn (DEBUG off).

The shared Redis on :6379 is never restarted: the Redis test runs its own server on a free port.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from tests.worker import ROOT

SECRET = "resilience-inbound-secret"  # noqa: S105 - a throwaway key for a throwaway server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target port until `cut()`: then every open connection is
    closed and new ones are accepted and closed at once (the way a restarting or unreachable
    server looks to a client), until `restore()`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._up = threading.Event()
        self._up.set()
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._up.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self._up.clear()
        with self._lock:
            sockets, self._open = self._open, []
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def restore(self) -> None:
        self._up.set()

    def close(self) -> None:
        self._stop = True
        self.cut()
        self._listener.close()


@pytest.fixture
def db_proxy() -> Iterator[TcpProxy]:
    proxy = TcpProxy(int(settings.DATABASES["default"].get("PORT") or 5432))
    yield proxy
    proxy.close()


@dataclass
class RedisServer:
    port: int
    folder: Path
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
                "--appendonly", "yes", "--appendfsync", "always", "--save", "",
                "--logfile", str(self.folder / "redis.log"),
            ],
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not reachable(self.port):
            if time.monotonic() > deadline:
                raise AssertionError("throwaway redis-server did not start")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is needed for the Redis restart test (apt-get install redis-server)")
    folder = tmp_path / "redis"
    folder.mkdir()
    server = RedisServer(port=free_port(), folder=folder)
    server.start()
    yield server
    server.stop(signal.SIGKILL)


def production_env(**extra: str) -> dict[str, str]:
    """DEBUG off, as deployed: error pages come from the handlers, static files from the manifest."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_SETTINGS"))},
        "DJANGO_SETTINGS_MODULE": "triage.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "resilience-" + "x" * 50,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_COOKIES": "0",
        "INBOUND_EMAIL_SECRET": SECRET,
        "ANYMAIL_WEBHOOK_SECRET": "resilience:resilience",
        "TRIAGE_PROVIDER": "local",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("static")
    env = production_env(STATIC_ROOT=str(folder))
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    return folder


@pytest.fixture
def gunicorn(collected_static: Path, tmp_path: Path):
    """Start gunicorn (production settings) with the given env; returns its base URL."""
    started: list[subprocess.Popen] = []

    def _start(**extra: str) -> str:
        port = free_port()
        env = production_env(STATIC_ROOT=str(collected_static), MEDIA_ROOT=str(settings.MEDIA_ROOT), **extra)
        log = (tmp_path / f"gunicorn-{len(started)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "triage.wsgi", "--bind", f"127.0.0.1:{port}",
             "--workers", "1", "--threads", "4", "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        started.append(proc)
        deadline = time.monotonic() + 30
        while not reachable(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((tmp_path / f"gunicorn-{len(started) - 1}.log").read_text())
            time.sleep(0.1)
        return f"http://127.0.0.1:{port}"

    yield _start
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)


def production_user(username: str, password: str):
    """A user the production-settings server can log in (the test settings hash with MD5, which
    its PASSWORD_HASHERS do not list)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    hasher = PBKDF2PasswordHasher()
    user = get_user_model().objects.create_user(username)
    user.password = hasher.encode(password, hasher.salt())
    user.save(update_fields=["password"])
    return user
