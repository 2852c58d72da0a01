"""Gunicorn settings of the page pool (docker-compose's `web`: the queue, ticket pages, everything a
person clicks):

    gunicorn -c python:triage.gunicorn_conf triage.wsgi

Uploads and webhooks have their own pool, triage/gunicorn_intake_conf.py (`web-intake`), which the
router (deploy/haproxy.cfg) sends them to: a page never waits for the GIL behind an upload being
hashed and stored in the same process, so a burst of tickets does not slow the queue page for the
people reviewing them (bench/load.py). Pages are short and mostly CPU in Python, so cores + 1
processes of 2 threads each (a second thread overlaps one request's SQL with another's Python;
more threads only queue behind the GIL). Each thread holds its own database connection (workers x
threads in all). GUNICORN_* override.
"""

from __future__ import annotations

import os
from collections.abc import Callable

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
workers = int(os.environ.get("GUNICORN_WORKERS", "0")) or (os.cpu_count() or 1) + 1
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE_S", "5"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT_S", "60"))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# The pool's CPU priority (triage/priority.py): 0 for pages, so they win a contended core.
pool_nice = int(os.environ.get("GUNICORN_NICE", "0"))


def post_fork_at(level: int) -> Callable[[object, object], None]:
    """gunicorn's post_fork hook: each worker process takes the nice value `level` before it serves
    (the threads it starts inherit it)."""

    def post_fork(server: object, worker: object) -> None:
        if level > 0:
            from triage.priority import priority_lower

            priority_lower(nice=level)

    return post_fork


post_fork = post_fork_at(pool_nice)
