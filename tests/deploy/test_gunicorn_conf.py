"""The two gunicorn pools (triage/gunicorn_conf.py: pages; triage/gunicorn_intake_conf.py: intake
posts): their shapes, the GUNICORN_* overrides, and a real gunicorn of each whose worker processes
run at the pool's nice value."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
_READ = """
import json, sys, importlib
conf = importlib.import_module(sys.argv[1])
print(json.dumps({k: getattr(conf, k) for k in ("bind", "worker_class", "workers", "threads", "keepalive",
                  "pool_nice")} | {"post_fork": callable(conf.post_fork)}))
"""


def _conf(module: str, **env: str) -> dict:
    """The module's settings as gunicorn would read them, in a fresh process with this environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GUNICORN_")}
    out = subprocess.run([sys.executable, "-c", _READ, module], cwd=ROOT, env={**clean, **env},
                         capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(out.stdout)


def test_the_page_pool_has_few_threads_per_process_at_normal_priority():
    conf = _conf("triage.gunicorn_conf")
    cores = os.cpu_count() or 1
    assert conf == {"bind": "0.0.0.0:8000", "worker_class": "gthread", "workers": cores + 1, "threads": 2,
                    "keepalive": 5, "pool_nice": 0, "post_fork": True}  # fmt: skip


def test_the_intake_pool_overlaps_waits_with_threads_at_a_lower_priority():
    conf = _conf("triage.gunicorn_intake_conf")
    cores = os.cpu_count() or 1
    assert conf == {"bind": "0.0.0.0:8000", "worker_class": "gthread", "workers": cores, "threads": 4,
                    "keepalive": 5, "pool_nice": 5, "post_fork": True}  # fmt: skip


@pytest.mark.parametrize("module", ["triage.gunicorn_conf", "triage.gunicorn_intake_conf"])
def test_the_environment_overrides_each_pool(module):
    conf = _conf(module, GUNICORN_BIND="127.0.0.1:9001", GUNICORN_WORKERS="7", GUNICORN_THREADS="3",
                 GUNICORN_NICE="2")  # fmt: skip
    assert (conf["bind"], conf["workers"], conf["threads"], conf["pool_nice"]) == ("127.0.0.1:9001", 7, 3, 2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _nice_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads nice values from Linux's /proc")
@pytest.mark.parametrize(
    ("module", "extra"), [("triage.gunicorn_conf", 0), ("triage.gunicorn_intake_conf", 5)]
)
def test_a_real_gunicorn_runs_each_pools_workers_at_its_nice_value(module, extra):
    """gunicorn calls the pool's post_fork in every worker (a stdlib WSGI app: no Django needed)."""
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    port = _free_port()
    env = {**os.environ, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "2",
           "GUNICORN_ACCESS_LOG": "", "GUNICORN_LOG_LEVEL": "warning"}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", f"python:{module}", "wsgiref.simple_server:demo_app"],
                            cwd=ROOT, env=env, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        workers: list[int] = []
        while time.monotonic() < deadline:
            children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
            workers = [int(c) for c in children]
            # post_fork has run once a worker answers a request
            if len(workers) == 2 and all(_nice_of(w) == ours + extra for w in workers):
                break
            time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
            assert conn.recv(64).startswith(b"HTTP/1.")
        assert len(workers) == 2
        assert [_nice_of(w) for w in workers] == [ours + extra] * 2
        assert _nice_of(proc.pid) == ours  # the arbiter itself is not lowered
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
