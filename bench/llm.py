"""Tickets triaged per second by ONE `llm` worker (`celery worker --pool threads --concurrency 50
-Q llm`) against a local server that speaks Kimi's wire format and answers each request after 2 s.

    python bench/llm.py [--tickets 400] [--concurrency 50] [--delay 2.0]

With 50 requests in flight and 2 s per answer the ceiling is 25 tickets/s; the goal is
at least 20, i.e. the worker is limited by the configured concurrency, not by our own overhead.
The shared limiter runs for real (Redis when reachable) with KIMI_MAX_CONCURRENCY = --concurrency;
KIMI_MAX_RPM is lifted for the run, because 200/min (Tier 1) would cap it at 3.3 tickets/s.

Database: PostgreSQL (`postgres://postgres@127.0.0.1:5432/triage_bench_llm_<pid>`, dropped after)
when reachable, else a SQLite file. Broker: Redis (BENCH_REDIS_URL, default db 8) when reachable,
else the filesystem broker. Prints one JSON object per line: {"metric", "value", "unit", "goal"}.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._harness import create_database, drop_database, start_process_group, stop_process_group  # noqa: E402

REPLY = {
    "summary": "The customer was charged twice for the November invoice.",
    "category": {"value": "billing", "confidence": 0.93},
    "priority": {"value": "high", "confidence": 0.7},
    "queue": {"value": "billing_team", "confidence": 0.8},
    "sentiment": {"value": "negative", "confidence": 0.66},
    "language": {"value": "de", "confidence": 0.99},
}
PG_ADMIN = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")


def emit(metric: str, value: float | None, unit: str, goal: str | None = None, **extra: object) -> None:
    shown = round(value, 3) if isinstance(value, float) else value
    print(json.dumps({"metric": metric, "value": shown, "unit": unit, "goal": goal, **extra}), flush=True)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


class FakeKimi(ThreadingHTTPServer):
    """Kimi's chat-completions wire format (tests/kimi_fake.py), one answer per request after `delay`."""

    daemon_threads = True
    request_queue_size = 256  # 50 connections arrive at once; the default backlog of 5 drops some

    def __init__(self, delay: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.delay = delay
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0
        self.requests = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects
    server: FakeKimi

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        fake = self.server
        with fake.lock:
            fake.in_flight += 1
            fake.requests += 1
            fake.peak = max(fake.peak, fake.in_flight)
        try:
            time.sleep(fake.delay)
            if self.path != "/v1/chat/completions" or "temperature" in body:
                status, payload = 400, {"error": {"type": "invalid_request_error", "message": "bad"}}
            else:
                status, payload = (
                    200,
                    {
                        "id": "chatcmpl-bench",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model", "kimi-k2.6"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": json.dumps(REPLY)},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {
                            "prompt_tokens": 1200,
                            "completion_tokens": 180,
                            "total_tokens": 1380,
                            "cached_tokens": 1024,
                        },
                    },
                )
        finally:
            with fake.lock:
                fake.in_flight -= 1
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--delay", type=float, default=2.0)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="triage-bench-llm-"))
    fake = FakeKimi(args.delay)
    threading.Thread(target=fake.serve_forever, daemon=True).start()

    pg_db = ""
    pg_server = PG_ADMIN.rsplit("/", 1)[0]
    if _reachable("127.0.0.1", 5432):
        pg_db = f"triage_bench_llm_{os.getpid()}"
        database_url = create_database(pg_db, server=pg_server)
    else:
        database_url = f"sqlite:///{scratch / 'bench.sqlite3'}"
    use_redis = _reachable("127.0.0.1", 6379)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "triage.settings",
        "TRIAGE_VAR_DIR": str(scratch),
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": REDIS_URL if use_redis else "filesystem://",
        "TRIAGE_PROVIDER": "kimi",
        "KIMI_API_KEY": "sk-bench",
        "KIMI_BASE_URL": fake.base_url,
        "KIMI_MAX_RETRIES": "0",
        "KIMI_MAX_CONCURRENCY": str(args.concurrency),
        "KIMI_MAX_RPM": "0",  # no RPM limit: this measures the concurrency ceiling
        "KIMI_DAILY_SPEND_CAP_USD": "0",
        "KIMI_LIMITS_KEY_PREFIX": f"triage-bench-{os.getpid()}:kimi",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)
    worker = None
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        import django

        django.setup()
        from django.db.models import Count

        from triage.celery import app
        from triage.models import Ticket
        from triage.tasks import ticket_triage_task

        with app.connection_for_write() as conn, contextlib.suppress(Exception):
            conn.default_channel.queue_purge("llm")
        log = (scratch / "worker.log").open("wb")
        worker = start_process_group(
            [sys.executable, "-m", "celery", "-A", "triage", "worker", "-Q", "llm", "--pool", "threads"]
            + [
                "--concurrency",
                str(args.concurrency),
                "--loglevel",
                "INFO",
                "-n",
                f"benchllm{os.getpid()}@%h",
            ]
            + ["--without-mingle", "--without-gossip", "--without-heartbeat"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while " ready." not in (scratch / "worker.log").read_text(errors="replace"):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit((scratch / "worker.log").read_text(errors="replace"))
            time.sleep(0.1)

        def run(n: int, label: str) -> tuple[float, dict[str, int]]:
            tickets = Ticket.objects.bulk_create(
                Ticket(
                    subject=f"{label} {i}: Rechnung doppelt abgebucht",
                    description="Die Rechnung wurde zweimal von der Kreditkarte abgebucht.",
                    status=Ticket.Status.TRIAGING,
                )
                for i in range(n)
            )
            ids = [t.id for t in tickets]
            started = time.monotonic()
            for ticket_id in ids:
                ticket_triage_task.delay(ticket_id=ticket_id)
            pending = Ticket.objects.filter(id__in=ids, status=Ticket.Status.TRIAGING)
            limit = time.monotonic() + 60 + 4 * n * args.delay / args.concurrency
            while pending.exists():
                if time.monotonic() > limit:
                    raise SystemExit(f"{pending.count()} tickets still TRIAGING after the time limit")
                time.sleep(0.05)
            elapsed = time.monotonic() - started
            statuses = dict(Ticket.objects.filter(id__in=ids).values_list("status").annotate(n=Count("id")))
            return elapsed, statuses

        run(args.concurrency, "warm-up")  # connections, SDK client, taxonomy caches
        fake.peak = 0
        elapsed, statuses = run(args.tickets, "bench")
        done = statuses.get(Ticket.Status.NEEDS_REVIEW, 0)
        ceiling = args.concurrency / args.delay
        emit(
            "tickets_per_s",
            done / elapsed,
            "tickets/s",
            f">= {0.8 * ceiling:g}",
            tickets=args.tickets,
            concurrency=args.concurrency,
            reply_delay_s=args.delay,
            ceiling=ceiling,
            database="postgresql" if pg_db else "sqlite",
            broker="redis" if use_redis else "filesystem",
        )
        emit("tickets_per_min", 60 * done / elapsed, "tickets/min", f">= {60 * 0.8 * ceiling:g}")
        emit("wall_time", elapsed, "s", None, tickets=args.tickets)
        emit("peak_concurrent_requests", fake.peak, "requests", f"<= {args.concurrency}")
        emit("not_triaged", args.tickets - done, "tickets", "== 0", statuses=statuses)
    finally:
        if worker is not None:
            stop_process_group(worker, timeout=20)
        fake.shutdown()
        if pg_db:
            drop_database(pg_db, server=pg_server)


if __name__ == "__main__":
    main()
