"""triage/priority.py: background processes yield the CPU to the web pages. The nice value is read
back from the kernel (/proc and getpriority) for every thread and child, in separate processes so
that the test process keeps its own priority."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.worker import wait_for

ROOT = Path(__file__).resolve().parent.parent

_THREADS = """
import json, os, threading
from triage.priority import priority_lower
before = threading.Event(); hold = threading.Event()
early = threading.Thread(target=lambda: (before.set(), hold.wait())); early.start(); before.wait()
first = priority_lower(nice=7)
again = priority_lower(nice=3)  # asks for a higher priority: refused, the value stays
late_nice = []
late = threading.Thread(target=lambda: late_nice.append(os.getpriority(os.PRIO_PROCESS, 0))); late.start(); late.join()
print(json.dumps({"first": first, "again": again, "early": os.getpriority(os.PRIO_PROCESS, early.native_id),
                  "late": late_nice[0], "main": os.getpriority(os.PRIO_PROCESS, 0)}))
hold.set()
"""


def _nice_of(pid: int) -> int:
    """The nice value of a process (its main thread), field 19 of /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[16])


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads nice values from Linux's /proc")
def test_every_thread_is_lowered_new_ones_inherit_it_and_it_is_never_raised_back():
    out = subprocess.run(
        [sys.executable, "-c", _THREADS], cwd=ROOT, capture_output=True, text=True, check=True
    )
    seen = json.loads(out.stdout)
    start = os.getpriority(os.PRIO_PROCESS, 0)  # the child started at ours
    assert start < 7
    assert seen == {"first": 7, "again": 7, "early": 7, "late": 7, "main": 7}


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads nice values from Linux's /proc")
@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_and_its_pool_run_at_the_worker_nice_value(start_worker):
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    nice = ours + 6
    worker = start_worker(queues="reports", TRIAGE_WORKER_NICE=str(nice))
    wait_for(lambda: len(_children(worker.proc.pid)) == 2, timeout=30, message="two prefork children")
    assert _nice_of(worker.proc.pid) == nice
    for child in _children(worker.proc.pid):
        assert _nice_of(child) == nice
    for task in Path(f"/proc/{worker.proc.pid}/task").iterdir():  # its threads (heartbeat, ...) too
        assert _nice_of(int(task.name)) == nice, task.name


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads nice values from Linux's /proc")
@pytest.mark.django_db(transaction=True)
def test_a_worker_at_nice_0_keeps_the_priority_it_was_started_with(start_worker):
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    worker = start_worker(queues="reports", TRIAGE_WORKER_NICE="0")
    wait_for(lambda: len(_children(worker.proc.pid)) == 2, timeout=30, message="two prefork children")
    assert {_nice_of(p) for p in (worker.proc.pid, *_children(worker.proc.pid))} == {ours}
