"""Hand-off: outbound webhook throughput and lag, and the REST API list at 100,000 tickets.

    python bench/handoff.py [--events 10000] [--tickets 100000] [--requests 50] [--concurrency 20]
        [--review-threads 4]

The defaults are the full run the hand-off goals are set for (10,000 events, 100,000 tickets).

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth) and Redis on 127.0.0.1:6379 (database
TRIAGE_BENCH_REDIS_DB, default 6). Uses its own database, triage_bench_handoff (or
TRIAGE_BENCH_HANDOFF_DB), rebuilt each run.

Webhooks: --events reviewed tickets (each review is the real review_record, so each writes its
outbox row with the ticket's representation) go to 3 local receivers (HTTP/1.1, keep-alive); one
answers 500 to 20% of first attempts (by webhook-id). The backlog is reviewed on --review-threads
threads before the worker starts. One `webhooks` worker (threads, --concurrency) delivers. Reported:
deliveries per second, lag from each review's commit to the first 2xx at a receiver (p50/p99, healthy
endpoints and the flaky one apart), events missing at the receivers, and repeats (same webhook-id
received twice with a 2xx).

API: GET /api/v1/tickets (default work order, and a filtered newest-first page) at --tickets rows,
server time through Django's test Client in this process with DEBUG off (no socket), p95 over
--requests requests after warm-up, and the query count of one more request.
Prints one JSON object per line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._harness import emit, process_group, redis_url  # noqa: E402

PG = os.environ.get("TRIAGE_BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = os.environ.get("TRIAGE_BENCH_HANDOFF_DB", "triage_bench_handoff")
REDIS = redis_url(6)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


class _Server(ThreadingHTTPServer):
    # a listen backlog like a real receiver's: the stdlib's 5 resets connections under a burst of
    # concurrent POSTs, which the bench would count as failed deliveries
    request_queue_size = 128


class Receiver:
    """A local webhook receiver; `flaky` answers 500 to 20% of first attempts (chosen by id)."""

    def __init__(self, flaky: bool) -> None:
        self.flaky = flaky
        self.first_ok: dict[str, float] = {}
        self.seen: set[str] = set()
        self.repeats = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real receivers (nginx, any framework) do

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("content-length", 0)))
                msg_id = self.headers["webhook-id"]
                with receiver.lock:
                    first = msg_id not in receiver.seen
                    receiver.seen.add(msg_id)
                    fail = (
                        receiver.flaky
                        and first
                        and int(hashlib.sha256(msg_id.encode()).hexdigest(), 16) % 5 == 0
                    )
                    if not fail:
                        if msg_id in receiver.first_ok:
                            receiver.repeats += 1
                        else:
                            receiver.first_ok[msg_id] = time.time()
                self.send_response(500 if fail else 200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--review-threads", type=int, default=4)
    args = parser.parse_args()

    env = {
        "DJANGO_SETTINGS_MODULE": "triage.settings",
        "DATABASE_URL": f"{PG}/{DB}",
        "CELERY_BROKER_URL": REDIS,
        "TRIAGE_VAR_DIR": "/tmp/triage-bench-handoff",
        "TRIAGE_PROVIDER": "local",
        "TRIAGE_OCR_ENABLED": "false",
        "TRIAGE_WEBHOOK_ALLOW_PRIVATE_URLS": "true",
        "TRIAGE_API_RATE_PER_MINUTE": "0",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-only",
        "DJANGO_ALLOWED_HOSTS": "testserver,127.0.0.1",
        "INBOUND_EMAIL_SECRET": "bench-only",
        "ANYMAIL_WEBHOOK_SECRET": "bench:only",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    Path(env["TRIAGE_VAR_DIR"]).mkdir(exist_ok=True)
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", DB], check=True)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import redis

    redis.Redis.from_url(REDIS).delete("webhooks")
    webhooks_phase(args, env)
    api_phase(args)


def webhooks_phase(args: argparse.Namespace, env: dict[str, str]) -> None:
    from django.contrib.auth.models import User
    from django.db import connection

    from triage.models import Ticket, WebhookDelivery
    from triage.services.review import review_record
    from triage.services.taxonomy import taxonomy_seed_defaults
    from triage.services.webhooks import webhook_endpoint_create

    taxonomy_seed_defaults()
    receivers = [Receiver(flaky=False), Receiver(flaky=False), Receiver(flaky=True)]
    for r in receivers:
        webhook_endpoint_create(url=r.url, events=["ticket.reviewed"])
    user = User.objects.create(username="bench-reviewer")
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO triage_ticket (subject, description, requester_email, channel, status, created_at,
               updated_at, summary, category, priority, queue, sentiment, language, confidence, link_kind)
               SELECT 'bench ticket ' || n, 'body', 'a@example.com', 'WEB', 'NEEDS_REVIEW', now(), now(),
               'summary', 'bug', 'high', 'tier1', 'neutral', 'en', 0.9, '' FROM generate_series(1, %s) n""",
            [args.events],
        )
    # 1. throughput: every review's event waits in the outbox and the queue, then one worker drains it
    tickets = list(Ticket.objects.order_by("id").values_list("id", flat=True))
    live = tickets[-max(1, min(500, len(tickets) // 10)) :]
    backlog = tickets[: len(tickets) - len(live)]
    reviewed_at: dict[int, float] = {}
    started = time.time()

    def review_some(ids: list[int]) -> None:
        try:
            for ticket_id in ids:
                review_record(ticket_id=ticket_id, user=user, values={"priority": "low"})
                reviewed_at[ticket_id] = time.time()
        finally:
            connection.close()  # this thread's own connection

    # the backlog is only a queue to drain: reviewed side by side (its own connection each), so
    # 10,000 reviews take minutes, not a quarter of an hour
    with ThreadPoolExecutor(max_workers=args.review_threads) as pool:
        list(pool.map(review_some, [backlog[i :: args.review_threads] for i in range(args.review_threads)]))
    emit("review_rate", len(backlog) / (time.time() - started), "reviews/s", events=len(backlog),
         threads=args.review_threads)  # fmt: skip
    worker = [
        sys.executable, "-m", "celery", "-A", "triage", "worker", "-Q", "webhooks", "--pool", "threads",
        "--concurrency", str(args.concurrency), "--loglevel", "WARNING", "-n", "bench-webhooks@%h",
        "--without-mingle", "--without-gossip",
    ]  # fmt: skip
    expected = len(tickets)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    with process_group(worker, cwd=ROOT, env={**os.environ, **env}, **quiet):
        deadline = time.time() + 300 + args.events / 10
        while time.time() < deadline and any(len(r.first_ok) < len(backlog) for r in receivers):
            time.sleep(0.2)
        firsts = sorted(t for r in receivers for t in r.first_ok.values())
        # from the first delivery to the last: the worker's start-up is not delivery time
        emit("deliveries_per_s", len(firsts) / (firsts[-1] - firsts[0]), "deliveries/s", ">= 200",
             deliveries=len(firsts), events=len(backlog), endpoints=3, worker_concurrency=args.concurrency)  # fmt: skip
        # 2. lag: reviews one after another with the worker running, each timed to its first 2xx
        for ticket_id in live:
            review_record(ticket_id=ticket_id, user=user, values={"priority": "low"})
            reviewed_at[ticket_id] = time.time()
        while time.time() < deadline and any(len(r.first_ok) < expected for r in receivers):
            time.sleep(0.5)
    msg_to_ticket = dict(WebhookDelivery.objects.values_list("event__msg_id", "event__ticket_id"))
    live_set = set(live)
    for name, group in (("healthy", receivers[:2]), ("flaky", receivers[2:])):
        lags = [
            t - reviewed_at[msg_to_ticket[m]]
            for r in group
            for m, t in r.first_ok.items()
            if msg_to_ticket.get(m) in live_set
        ]
        emit(f"lag_p50_{name}", pct(lags, 50), "s", reviews=len(live))
        emit(f"lag_p99_{name}", pct(lags, 99), "s", "< 5" if name == "healthy" else None, reviews=len(live))
    missing = sum(expected - len(r.first_ok) for r in receivers)
    emit("missing", missing, "events", "== 0", expected=expected * 3)
    emit("repeats", sum(r.repeats for r in receivers), "deliveries")


def api_phase(args: argparse.Namespace) -> None:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from triage.services.api_tokens import api_token_create

    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO triage_ticket (subject, description, requester_email, channel, status, created_at,
               updated_at, summary, category, priority, queue, sentiment, language, confidence, link_kind)
               SELECT 'api ticket ' || n, 'body', 'a@example.com',
                 (ARRAY['WEB','EMAIL'])[1 + n %% 2],
                 (ARRAY['NEEDS_REVIEW','REVIEWED','REVIEWED','MANUAL_TRIAGE','TRIAGING'])[1 + n %% 5],
                 now() - (n || ' minutes')::interval, now(), 'summary',
                 (ARRAY['bug','billing','account_access','feature_request'])[1 + n %% 4],
                 (ARRAY['low','normal','high','urgent'])[1 + (n / 7) %% 4],
                 (ARRAY['tier1','billing','engineering'])[1 + n %% 3], 'neutral', 'en', (n %% 100) / 100.0, ''
               FROM generate_series(1, %s) n""",
            [max(0, args.tickets - args.events)],
        )
        cursor.execute("ANALYZE triage_ticket")
    user = User.objects.get(username="bench-reviewer")
    token = api_token_create(user=user, name="bench", scope="read").plaintext
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    pages = {
        "default": {},
        "filtered": {"status": "needs_review", "category": "bug", "sort": "newest"},
        "page_3": None,  # the third page of the default order, through its cursor
    }
    cursor_url = None
    body = json.loads(client.get("/api/v1/tickets").content)
    body = json.loads(client.get("/api/v1/tickets", {"cursor": body["next_cursor"]}).content)
    cursor_url = {"cursor": body["next_cursor"]}
    for name, params in pages.items():
        params = cursor_url if params is None else params
        for _ in range(3):
            assert client.get("/api/v1/tickets", params).status_code == 200
        times = []
        for _ in range(args.requests):
            t0 = time.perf_counter()
            response = client.get("/api/v1/tickets", params)
            times.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200
        with CaptureQueriesContext(connection) as queries:
            client.get("/api/v1/tickets", params)
        emit(
            f"api_list_p95_{name}", pct(times, 95), "ms", "< 100", tickets=args.tickets, queries=len(queries)
        )
        big = dict(params, limit="100")
        with CaptureQueriesContext(connection) as queries100:
            client.get("/api/v1/tickets", big)
        emit(f"api_list_queries_{name}", len(queries), "queries", "constant", at_limit_100=len(queries100))


if __name__ == "__main__":
    main()
