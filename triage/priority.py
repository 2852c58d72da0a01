"""CPU priority of our own processes: background work yields the cores to interactive pages.

On a small machine the web pages, the intake posts and the Celery workers share a few cores. The
scheduler gives a process with a higher nice value a smaller share only while the CPU is contended,
so a worker at nice 10 still runs at full speed on an idle machine but waits for a page that needs
the core. Used by the Celery workers (triage/celery.py, TRIAGE_WORKER_NICE) and by the intake web
pool (triage/gunicorn_intake_conf.py, GUNICORN_NICE).

Linux keeps the nice value per thread and a new thread or child inherits its creator's, so every
thread already running is lowered too (an unprivileged process may always lower its own priority,
never raise it back: the value is only ever raised here).
"""

from __future__ import annotations

import os
from pathlib import Path

_TASKS = Path("/proc/self/task")


def priority_lower(*, nice: int) -> int:
    """Raise this process's nice value (every thread's) to at least `nice`; never lowers it. Returns
    the calling thread's nice value afterwards. No-op where the OS has no setpriority."""
    if not hasattr(os, "setpriority"):
        return 0
    threads = [int(t) for t in os.listdir(_TASKS)] if _TASKS.is_dir() else [0]
    for tid in threads:
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) < nice:
                os.setpriority(os.PRIO_PROCESS, tid, nice)
        except (ProcessLookupError, PermissionError):  # a thread that ended meanwhile
            continue
    return os.getpriority(os.PRIO_PROCESS, 0)
