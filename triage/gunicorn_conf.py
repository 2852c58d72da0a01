"""Gunicorn settings of the web process, used by docker-compose's `web` and by bench/webhook.py:

    gunicorn -c python:triage.gunicorn_conf triage.wsgi

Threads, not one process per request: a request to the inbound email endpoint spends most of its
time waiting on fsyncs (the .eml, PostgreSQL's WAL) and on Redis, so a few threads per process keep
the cores busy while one waits, and keep-alive spares a relay's connection set-up on every post.
Each thread holds its own database connection (workers x threads in all). GUNICORN_* override.
"""

from __future__ import annotations

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
workers = int(os.environ.get("GUNICORN_WORKERS", "0")) or (os.cpu_count() or 1) + 1
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE_S", "5"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT_S", "60"))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
