"""The raw inbound email endpoint under gunicorn with concurrent clients posting ~100 KB messages
with an image: requests per second, p50/p99 latency, and that every message became exactly one
ticket (an `intake` worker drains the queue after the load).

    python bench/webhook.py [--messages 2000] [--clients 8] [--workers 4] [--duplicates 0.1]

Uses PostgreSQL and Redis when reachable on 127.0.0.1 (the production shape: a scratch database
that is dropped afterwards, Redis database BENCH_REDIS_DB, default 12), else SQLite and the
filesystem broker. Prints one JSON object per line. Goal (issue 6): >= 200 requests/s and
p99 < 150 ms on 2 cores.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SECRET = "bench-inbound-secret"  # noqa: S105 - a throwaway key for a throwaway server


def emit(metric: str, value: float, unit: str, **extra: object) -> None:
    print(json.dumps({"metric": metric, "value": round(value, 3), "unit": unit, **extra}), flush=True)


def reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def message(n: int, image: bytes) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"customer{n}@example.com"
    msg["To"] = "support@triage.local"
    msg["Subject"] = f"Checkout fails for order {n}"
    msg["Message-ID"] = f"<bench-{n}-{os.getpid()}@example.com>"
    msg.set_content(f"Card payment fails with error 500 on order {n}.\n" + "Steps: open cart, pay.\n" * 200)
    msg.add_attachment(image, maintype="image", subtype="png", filename=f"order-{n}.png")
    return msg.as_bytes()


def noise_png(size_bytes: int) -> bytes:
    """A PNG of random pixels (incompressible), about `size_bytes` long."""
    import io

    from PIL import Image

    side = int((size_bytes / 3) ** 0.5)
    image = Image.frombytes("RGB", (side, side), random.randbytes(side * side * 3))
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def signed_headers(body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    mac = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "message/rfc822",
        "X-Triage-Timestamp": timestamp,
        "X-Triage-Signature": f"sha256={mac}",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--duplicates", type=float, default=0.1, help="share of posts repeated")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="triage-bench-webhook-"))
    (scratch / "staticfiles").mkdir()  # WhiteNoise warns on every worker start without it
    services = reachable(5432) and reachable(6379)
    db_name = f"triage_bench_{os.getpid()}"
    if services:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db_name}"')
        database_url = f"postgres://postgres@127.0.0.1:5432/{db_name}"
        broker_url = f"redis://127.0.0.1:6379/{os.environ.get('BENCH_REDIS_DB', '12')}"
    else:
        database_url = f"sqlite:///{scratch / 'bench.sqlite3'}"
        broker_url = "filesystem://"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "triage.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-" + "x" * 50,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "INBOUND_EMAIL_SECRET": SECRET,
        "ANYMAIL_WEBHOOK_SECRET": "bench:bench",
        "TRIAGE_VAR_DIR": str(scratch),
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "TRIAGE_PROVIDER": "local",
        "LOG_LEVEL": "WARNING",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    if broker_url.startswith("redis"):
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import redis,sys; redis.Redis.from_url(sys.argv[1]).flushdb()",
                broker_url,
            ],
            check=True,
        )

    image = noise_png(70 * 1024)
    bodies = [message(n, image) for n in range(args.messages)]
    posts = list(range(args.messages)) + random.sample(
        range(args.messages), int(args.messages * args.duplicates)
    )
    random.shuffle(posts)

    port = free_port()
    gunicorn = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "triage.wsgi", "--bind", f"127.0.0.1:{port}",
            "--workers", str(args.workers), "--log-level", "warning",
        ],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    worker = None
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if reachable(port):
                break
            time.sleep(0.1)
        local = threading.local()

        def post(n: int) -> tuple[float, int]:
            session = getattr(local, "session", None) or requests.Session()
            local.session = session
            body = bodies[n]
            started = time.perf_counter()
            response = session.post(
                f"{base}/intake/email/raw/", data=body, headers=signed_headers(body), timeout=30
            )
            return (time.perf_counter() - started) * 1000, response.status_code

        for n in range(min(20, args.messages)):  # warm up every gunicorn worker (imports, connections)
            post(posts[n])
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.clients) as pool:
            results = list(pool.map(post, posts[20:]))
        elapsed = time.perf_counter() - started
        latencies = sorted(ms for ms, _ in results)
        statuses = {code: sum(1 for _, c in results if c == code) for code in {c for _, c in results}}
        shape = "postgres+redis" if services else "sqlite+filesystem"
        common = {
            "cores": os.cpu_count(),
            "clients": args.clients,
            "gunicorn_workers": args.workers,
            "shape": shape,
        }
        emit("webhook_requests_per_s", len(results) / elapsed, "req/s", goal=">=200", **common)
        emit("webhook_latency_p50", statistics.median(latencies), "ms", **common)
        emit("webhook_latency_p99", latencies[int(len(latencies) * 0.99) - 1], "ms", goal="<150", **common)
        emit("webhook_message_size", statistics.mean(len(b) for b in bodies) / 1024, "KiB")
        emit("webhook_statuses", 0, "count", statuses={str(k): v for k, v in sorted(statuses.items())})

        # Drain the intake queue and check: every distinct message is exactly one ticket.
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "triage", "worker", "-Q", "intake", "--concurrency", "4",
             "--loglevel", "WARNING", "--without-mingle", "--without-gossip", "-n", f"bench{os.getpid()}@%h"],
            cwd=ROOT, env=env, start_new_session=True,
        )  # fmt: skip
        os.environ.update({k: v for k, v in env.items() if k != "DJANGO_SETTINGS_MODULE"})
        os.environ["DJANGO_SETTINGS_MODULE"] = "triage.settings"
        import django

        django.setup()
        from triage.models import InboundEmail, Ticket

        drain_started = time.perf_counter()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if InboundEmail.objects.filter(status=InboundEmail.Status.TICKETED).count() >= args.messages:
                break
            time.sleep(0.5)
        emit("intake_drain", time.perf_counter() - drain_started, "s", messages=args.messages)
        rows = InboundEmail.objects.count()
        ticketed = InboundEmail.objects.filter(status=InboundEmail.Status.TICKETED).count()
        tickets = Ticket.objects.count()
        emit(
            "every_message_one_ticket",
            float(rows == ticketed == tickets == args.messages),
            "bool",
            messages=args.messages,
            posts=len(posts),
            rows=rows,
            ticketed=ticketed,
            tickets=tickets,
        )
    finally:
        for proc in (worker, gunicorn):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
        if services:
            if "django" in sys.modules and sys.modules["django"].apps.apps.ready:
                from django.db import connections

                connections.close_all()
            import psycopg

            with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
