"""triage/priority.py: background processes yield the CPU to the web pages. The nice value and the
scheduling policy are read back from the kernel (/proc, getpriority, sched_getscheduler) for every
thread and child, in separate processes so that the test process keeps its own priority."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.worker import wait_for
from triage.priority import priority_group_nice, priority_idle

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


_IDLE_THREADS = """
import json, os, threading
from triage.priority import priority_group_nice, priority_idle
before = threading.Event(); hold = threading.Event()
early = threading.Thread(target=lambda: (before.set(), hold.wait())); early.start(); before.wait()
done = priority_idle()
late_policy = []
late = threading.Thread(target=lambda: late_policy.append(os.sched_getscheduler(0))); late.start(); late.join()
child = os.fork()
if child == 0:
    os._exit(0 if os.sched_getscheduler(0) == os.SCHED_IDLE else 1)
_, status = os.waitpid(child, 0)
print(json.dumps({"done": done, "main": os.sched_getscheduler(0), "early": os.sched_getscheduler(early.native_id),
                  "late": late_policy[0], "child_idle": os.waitstatus_to_exitcode(status) == 0}))
hold.set()
"""


def _policy_of(pid: int) -> int:
    """The scheduling policy of a process or thread, as the kernel reports it."""
    return os.sched_getscheduler(pid)


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
    worker = start_worker(queues="reports", TRIAGE_WORKER_NICE=str(nice), TRIAGE_WORKER_SCHED="nice")
    wait_for(lambda: len(_children(worker.proc.pid)) == 2, timeout=30, message="two prefork children")
    assert _nice_of(worker.proc.pid) == nice
    for child in _children(worker.proc.pid):
        assert _nice_of(child) == nice
    for task in Path(f"/proc/{worker.proc.pid}/task").iterdir():  # its threads (heartbeat, ...) too
        assert _nice_of(int(task.name)) == nice, task.name
    assert {_policy_of(p) for p in (worker.proc.pid, *_children(worker.proc.pid))} == {os.SCHED_OTHER}


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads nice values from Linux's /proc")
@pytest.mark.django_db(transaction=True)
def test_a_worker_at_nice_0_keeps_the_priority_it_was_started_with(start_worker):
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    worker = start_worker(queues="reports", TRIAGE_WORKER_NICE="0", TRIAGE_WORKER_SCHED="nice")
    wait_for(lambda: len(_children(worker.proc.pid)) == 2, timeout=30, message="two prefork children")
    assert {_nice_of(p) for p in (worker.proc.pid, *_children(worker.proc.pid))} == {ours}
    assert {_policy_of(p) for p in (worker.proc.pid, *_children(worker.proc.pid))} == {
        os.sched_getscheduler(0)
    }


_NEEDS_IDLE = pytest.mark.skipif(
    not (Path("/proc/self/task").is_dir() and hasattr(os, "SCHED_IDLE")),
    reason="Linux's SCHED_IDLE and /proc",
)


@_NEEDS_IDLE
def test_idle_reaches_every_thread_and_what_starts_later_inherits_it():
    out = subprocess.run(
        [sys.executable, "-c", _IDLE_THREADS], cwd=ROOT, capture_output=True, text=True, check=True
    )
    seen = json.loads(out.stdout)
    assert os.sched_getscheduler(0) != os.SCHED_IDLE  # the child started at ours, not idle
    assert seen == {"done": True, "main": os.SCHED_IDLE, "early": os.SCHED_IDLE, "late": os.SCHED_IDLE,
                    "child_idle": True}  # fmt: skip


@_NEEDS_IDLE
def test_idle_refused_says_so_and_leaves_the_thread_as_it_was(monkeypatch):
    if os.sched_getscheduler(0) == os.SCHED_IDLE:
        pytest.skip("the test process itself runs idle")

    def refuse(*_: object) -> None:
        raise PermissionError("seccomp")

    before = os.sched_getscheduler(0)
    monkeypatch.setattr(os, "sched_setscheduler", refuse)
    assert priority_idle() is False
    assert os.sched_getscheduler(0) == before


def test_the_production_default_is_idle_and_a_typo_is_refused():
    env = {k: v for k, v in os.environ.items() if k != "TRIAGE_WORKER_SCHED"}
    read = (
        "import django; django.setup(); from django.conf import settings; print(settings.TRIAGE_WORKER_SCHED)"
    )
    env["DJANGO_SETTINGS_MODULE"] = "triage.settings"
    out = subprocess.run([sys.executable, "-c", read], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "idle", out.stderr
    bad = subprocess.run([sys.executable, "-c", read], cwd=ROOT, env={**env, "TRIAGE_WORKER_SCHED": "idel"},
                         capture_output=True, text=True)  # fmt: skip
    assert bad.returncode != 0
    assert "TRIAGE_WORKER_SCHED" in bad.stderr


@_NEEDS_IDLE
@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_at_the_production_default_runs_idle_with_its_pool_and_threads(start_worker):
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    worker = start_worker(queues="reports", TRIAGE_WORKER_NICE=str(ours + 6), TRIAGE_WORKER_SCHED="idle")
    wait_for(lambda: len(_children(worker.proc.pid)) == 2, timeout=30, message="two prefork children")
    # the heartbeat thread starts once the worker is ready: wait for it, so it is checked too
    wait_for(lambda: len(list(Path(f"/proc/{worker.proc.pid}/task").iterdir())) > 1, timeout=30,
             message="the worker's threads")  # fmt: skip
    children = _children(worker.proc.pid)
    threads = [int(t.name) for t in Path(f"/proc/{worker.proc.pid}/task").iterdir()]
    assert {_policy_of(p) for p in (*threads, *children)} == {os.SCHED_IDLE}
    assert {_nice_of(p) for p in (worker.proc.pid, *children)} == {ours + 6}  # the fallback is set too


_AUTOGROUPS = pytest.mark.skipif(
    not (Path("/proc/self/autogroup").is_file() and Path("/proc/sys/kernel/sched_autogroup_enabled").is_file()
         and Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"),
    reason="the kernel groups no sessions (sched_autogroup off)",
)  # fmt: skip


def _group_nice_of(pid: int) -> int | None:
    return priority_group_nice(pid=pid)  # None: the root group (a CI runner's children)


def _untouched(group_nice: int | None, *, below: int) -> bool:
    return group_nice is None or group_nice < below


@_AUTOGROUPS
def test_the_session_group_is_lowered_never_raised_and_only_in_its_own_session():
    # a new session: its own group, so this test's session keeps its share
    script = (
        "from triage.priority import priority_group_lower as g; import json, os; "
        "print(json.dumps([g(nice=7), g(nice=3), os.getsid(0) == os.getpid()]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        start_new_session=True,
    )
    assert json.loads(out.stdout) == [7, 7, True]
    assert _untouched(_group_nice_of(os.getpid()), below=7)  # ours untouched


@_AUTOGROUPS
@_NEEDS_IDLE
@pytest.mark.django_db(transaction=True)
def test_a_worker_in_its_own_session_lowers_its_group_to_the_smallest_share(start_worker):
    worker = start_worker(queues="reports", TRIAGE_WORKER_SCHED="idle")
    wait_for(lambda: len(_children(worker.proc.pid)) == 2, timeout=30, message="two prefork children")
    if os.getsid(worker.proc.pid) == os.getsid(0):
        pytest.skip("the worker shares this test's session: its group is ours")
    assert {_group_nice_of(p) for p in (worker.proc.pid, *_children(worker.proc.pid))} == {19}
    assert _untouched(_group_nice_of(os.getpid()), below=19)


_GROUP_HOOK = """
import json, os, django
django.setup()
from triage.celery import _lower_group_priority
from triage.priority import priority_group_nice as group_nice
child = os.fork()
if child == 0:  # in the session, not its leader: as a worker under `make run`
    _lower_group_priority()
    os._exit(0)
os.waitpid(child, 0)
as_member = group_nice()
_lower_group_priority()  # the leader of its own session: as a worker the bench or a unit starts
print(json.dumps([as_member, group_nice()]))
"""


@_AUTOGROUPS
def test_a_worker_lowers_its_sessions_group_only_when_it_leads_the_session():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "triage.settings", "TRIAGE_WORKER_SCHED": "idle"}
    out = subprocess.run(
        [sys.executable, "-c", _GROUP_HOOK], cwd=ROOT, env=env, capture_output=True, text=True,
        start_new_session=True,  # its own group: ours is never at stake
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [0, 19]
