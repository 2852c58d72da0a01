"""Gunicorn settings of the intake pool (docker-compose's `web-intake`): the inbound email
webhooks, the REST API, the integrations' status hooks and the new-ticket form's posts, which the
router (deploy/haproxy.cfg) sends here, away from the page pool (triage/gunicorn_conf.py):

    gunicorn -c python:triage.gunicorn_intake_conf triage.wsgi

A post mostly waits: on the fsync of the stored message or file, PostgreSQL's WAL flush of its
commit, Redis. So threads (4 per process) keep the cores busy while one waits. (Keep-alive spares a
relay's connection set-up only when it posts to this pool directly, as bench/webhook.py does; behind
the router each request gets a fresh connection, see deploy/haproxy.cfg.) Slightly lower CPU priority than the
pages (GUNICORN_NICE, 5): a burst of arrivals is still answered at once on an idle core, but a
person loading a page gets a contended core first; the workers (TRIAGE_WORKER_NICE, 10) yield to
both. Everything else, and the GUNICORN_* overrides, as in the page pool.
"""

from __future__ import annotations

import os

from triage.gunicorn_conf import (  # noqa: F401 - gunicorn reads these names from this module
    accesslog,
    bind,
    keepalive,
    loglevel,
    post_fork_at,
    timeout,
    worker_class,
)

workers = int(os.environ.get("GUNICORN_WORKERS", "0")) or (os.cpu_count() or 1)
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
pool_nice = int(os.environ.get("GUNICORN_NICE", "5"))
post_fork = post_fork_at(pool_nice)
