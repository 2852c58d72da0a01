"""CPU priority of our own processes: background work yields the cores to interactive pages.

On a small machine the web pages, the intake posts and the Celery workers share a few cores. Two
ways to make a process yield, both of which only matter while the CPU is contended (on an idle
machine the process runs at full speed either way):

- nice: a higher nice value is a smaller share. At nice 10 a thread weighs ~1/10 of a nice-0 one
  (Linux's CFS weights 110 vs 1024), so during a burst a worker still takes a real part of the
  cores from the pages and the PostgreSQL backends serving them. Used by the intake web pool
  (triage/gunicorn_intake_conf.py, GUNICORN_NICE) and as the workers' fallback.
- SCHED_IDLE: the kernel's background policy, weight 3 (~1/340 of a nice-0 thread, ~1/37 of a
  nice-10 one), and a waking normal thread preempts it at once. Not a strict starvation: an idle
  thread still gets a sliver while every core is busy and all of any core that is free. The
  Celery workers' default (triage/celery.py, TRIAGE_WORKER_SCHED).

Both weigh a thread only against the threads of its own group, though. Where the kernel groups
processes by session (sched_autogroup, the default of many distributions' kernels; a celery worker
started in its own session is then a group of its own) or by cgroup (a container, a systemd unit),
the groups share the cores fairly whatever their threads' nice values or policy: a worker alone in
its group yields to nothing. So the worker also lowers its session group's weight
(/proc/self/autogroup, unprivileged; priority_group_lower), once it is ready and only when it leads
its session (triage/celery.py: under `make run` the session is the caller's terminal). Containers and systemd units need their
own weight (docker's `cpu_shares`, systemd's `CPUWeight=`), which no process can lower from inside.

Linux keeps both per thread and a new thread or child (a prefork child, ffmpeg, an OCR thread)
inherits its creator's, so every thread already running is lowered too. An unprivileged process
may always lower its own priority, never raise it back (leaving SCHED_IDLE needs RLIMIT_NICE or
CAP_SYS_NICE): the value is only ever lowered here.
"""

from __future__ import annotations

import os
from pathlib import Path

_TASKS = Path("/proc/self/task")


def _threads() -> list[int]:
    return [int(t) for t in os.listdir(_TASKS)] if _TASKS.is_dir() else [0]


def priority_lower(*, nice: int) -> int:
    """Raise this process's nice value (every thread's) to at least `nice`; never lowers it. Returns
    the calling thread's nice value afterwards. No-op where the OS has no setpriority."""
    if not hasattr(os, "setpriority"):
        return 0
    for tid in _threads():
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) < nice:
                os.setpriority(os.PRIO_PROCESS, tid, nice)
        except (ProcessLookupError, PermissionError):  # a thread that ended meanwhile
            continue
    return os.getpriority(os.PRIO_PROCESS, 0)


def priority_idle() -> bool:
    """Put every thread of this process under SCHED_IDLE. Returns whether the calling thread runs
    under it afterwards: False where the OS has no SCHED_IDLE or refuses it (a seccomp profile), so
    the caller can fall back to nice. A thread under a real-time policy is left alone."""
    if not hasattr(os, "SCHED_IDLE"):
        return False
    for tid in _threads():
        try:
            if os.sched_getscheduler(tid) in (os.SCHED_OTHER, os.SCHED_BATCH):
                os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
        except (ProcessLookupError, PermissionError, OSError):  # ended meanwhile, or refused
            continue
    return os.sched_getscheduler(0) == os.SCHED_IDLE


def priority_group_nice(*, pid: int | None = None) -> int | None:
    """The nice value of a process's session group (sched_autogroup; this process's by default).
    None where there is none to read: no autogroups, or the root group of processes that never
    began a session (its file is empty, and the kernel refuses to reweight it)."""
    text = Path(f"/proc/{pid or 'self'}/autogroup").read_text()
    return int(text.rsplit("nice", 1)[1]) if text.strip() else None


def priority_group_lower(*, nice: int) -> int | None:
    """Raise the nice value of this process's session group (sched_autogroup) to at least `nice`:
    its share against other sessions' groups, which its threads' own nice or SCHED_IDLE do not
    change. Every process of the session shares it (a worker's prefork children, ffmpeg). Returns the
    group's nice value afterwards, None where the kernel has no autogroups (or has them off)."""
    try:
        current = priority_group_nice()
        if current is not None and current < nice:
            Path("/proc/self/autogroup").write_text(str(min(nice, 19)))
            current = priority_group_nice()
    except (OSError, ValueError, IndexError):  # no such file, autogroups disabled, refused
        return None
    return current
