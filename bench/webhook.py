"""The raw inbound email endpoint under gunicorn with concurrent clients posting ~100 KB messages
with an image: requests per second, p50/p99 latency, and that every message became exactly one
ticket (an `intake` worker drains the queue after the load).

    python bench/webhook.py [--messages 2000] [--clients 8] [--configs sync:4,intake] [--duplicates 0.1]

Each gunicorn configuration in --configs is measured in the same run, in alternating turns of
--chunk posts (so a drifting machine load weighs on each alike), on its own messages: `intake` is
the production one (triage/gunicorn_intake_conf.py, docker-compose's `web-intake`, where the router
sends the webhooks), `conf` triage/gunicorn_conf.py (the page pool since 2026-12-06; before, the
one pool that served everything), `sync:N` N sync workers
(the shape before it), `gthread:W:T` W workers of T threads; `CONFIG@FOLDER` serves another
checkout (e.g. `sync:4@../main`) for a before/after in one run.

Uses PostgreSQL and Redis when reachable on 127.0.0.1 (the production shape: a scratch database
that is dropped afterwards, Redis database BENCH_REDIS_DB, default 12), else SQLite and the
filesystem broker. Prints one JSON object per line. Goal: >= 200 requests/s and
p99 < 150 ms on 2 cores.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._harness import (  # noqa: E402
    create_database,
    drop_database,
    emit,
    flush_redis,
    redis_url,
    start_process_group,
    stop_process_group,
)

SECRET = "bench-inbound-secret"  # noqa: S105 - a throwaway key for a throwaway server


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


def message_id(n: int, tag: str) -> str:
    return f"bench-{tag}-{n}-{os.getpid()}@example.com"


def message(n: int, image: bytes, tag: str = "run") -> bytes:
    msg = EmailMessage()
    msg["From"] = f"customer{n}@example.com"
    msg["To"] = "support@triage.local"
    msg["Subject"] = f"Checkout fails for order {n}"
    msg["Message-ID"] = f"<{message_id(n, tag)}>"
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


def gunicorn_command(config: str, port: int) -> tuple[list[str], dict[str, str], Path]:
    """The command line, extra environment and folder of one gunicorn configuration (see the
    docstring); `CONFIG@FOLDER` serves another checkout of the code (e.g. main), for a before/after."""
    base = [sys.executable, "-m", "gunicorn", "triage.wsgi"]
    config, _, folder = config.partition("@")
    cwd = Path(folder).resolve() if folder else ROOT
    command, extra = _gunicorn_command(config, port, base)
    return command, extra, cwd


def _gunicorn_command(config: str, port: int, base: list[str]) -> tuple[list[str], dict[str, str]]:
    kind, *numbers = config.split(":")
    if kind in ("conf", "intake"):
        extra = {"GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_LOG_LEVEL": "warning"}
        module = "triage.gunicorn_intake_conf" if kind == "intake" else "triage.gunicorn_conf"
        return [*base, "-c", f"python:{module}"], extra
    bind = ["--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--access-logfile", "-"]
    if kind == "sync":
        return [*base, *bind, "--workers", numbers[0]], {}
    if kind == "gthread":
        return [
            *base,
            *bind,
            "--worker-class",
            "gthread",
            "--workers",
            numbers[0],
            "--threads",
            numbers[1],
        ], {}
    raise SystemExit(f"unknown gunicorn configuration {config!r}: conf, sync:N or gthread:W:T")


def workers_cpu_s(master: int) -> float:
    """CPU seconds (user + system) used so far by the gunicorn workers of `master` (Linux /proc)."""
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return float("nan")
    total = 0
    for pid in children:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * 0.99) - 1)]


class Server:
    """One gunicorn configuration under load: its process, its messages, its client threads."""

    def __init__(
        self, *, config: str, env: dict[str, str], bodies: list[bytes], posts: list[int], clients: int
    ):
        self.config, self.bodies, self.posts = config, bodies, posts
        self.port = free_port()
        command, extra_env, cwd = gunicorn_command(config, self.port)
        self.process = start_process_group(
            command, cwd=cwd, env={**env, **extra_env, "PYTHONPATH": str(cwd)}, stdout=subprocess.DEVNULL
        )
        self.pool = ThreadPoolExecutor(max_workers=clients)
        self.local = threading.local()
        self.warm_up: list[tuple[float, int]] = []
        self.results: list[tuple[float, int]] = []
        self.elapsed = self.cpu = 0.0

    def post(self, n: int) -> tuple[float, int]:
        session = getattr(self.local, "session", None) or requests.Session()  # keep-alive per client
        self.local.session = session
        body = self.bodies[n]
        started = time.perf_counter()
        response = session.post(
            f"http://127.0.0.1:{self.port}/intake/email/raw/",
            data=body,
            headers=signed_headers(body),
            timeout=30,
        )
        return (time.perf_counter() - started) * 1000, response.status_code

    def start(self, warm: int) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not reachable(self.port):
            time.sleep(0.1)
        # every gunicorn worker: imports, connections (tallied, not timed)
        self.warm_up = list(self.pool.map(self.post, self.posts[:warm]))

    def settle(self, timeout_s: float = 60) -> None:
        """Wait until the workers are idle: a worker still importing Django would be timed."""
        deadline = time.monotonic() + timeout_s
        last = workers_cpu_s(self.process.pid)
        while time.monotonic() < deadline:
            time.sleep(0.5)
            now = workers_cpu_s(self.process.pid)
            if now - last < 0.02:
                return
            last = now

    def run(self, chunk: list[int]) -> None:
        cpu_before = workers_cpu_s(self.process.pid)
        started = time.perf_counter()
        self.results += self.pool.map(self.post, chunk)
        self.elapsed += time.perf_counter() - started
        self.cpu += workers_cpu_s(self.process.pid) - cpu_before

    def stop(self) -> None:
        self.pool.shutdown()
        stop_process_group(self.process)

    def figures(self) -> dict:
        latencies = [ms for ms, _ in self.results]
        return {
            "requests_per_s": len(self.results) / self.elapsed,
            "p50": statistics.median(latencies),
            "p99": p99(latencies),
            "cpu_ms_per_request": self.cpu * 1000 / len(self.results),
            "statuses": Counter(code for _, code in self.warm_up + self.results),
        }


def load_interleaved(servers: list[Server], *, chunk: int, warm: int = 20) -> None:
    """Post every server's messages in turns of `chunk` posts, alternating the order each turn, so
    a machine whose load drifts during the run weighs on every configuration alike."""
    for server in servers:
        server.start(warm)
    for server in servers:
        server.settle()
    turns = max(math.ceil((len(server.posts) - warm) / chunk) for server in servers)
    for turn in range(turns):
        for server in servers if turn % 2 == 0 else reversed(servers):
            part = server.posts[warm + turn * chunk : warm + (turn + 1) * chunk]
            if part:
                server.run(part)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000, help="distinct messages per configuration")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--configs", default="sync:4,intake", help="gunicorn configurations, compared in one run"
    )
    parser.add_argument("--duplicates", type=float, default=0.1, help="share of posts repeated")
    parser.add_argument("--chunk", type=int, default=200, help="posts per turn between configurations")
    args = parser.parse_args()
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]

    scratch = Path(tempfile.mkdtemp(prefix="triage-bench-webhook-"))
    (scratch / "staticfiles").mkdir()  # WhiteNoise warns on every worker start without it
    services = reachable(5432) and reachable(6379)
    db_name = f"triage_bench_{os.getpid()}"
    if services:
        database_url = create_database(db_name)
        broker_url = redis_url(12, variable="BENCH_REDIS_DB")
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
    worker = None
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        if broker_url.startswith("redis"):
            flush_redis(broker_url)

        image = noise_png(70 * 1024)
        shape = "postgres+redis" if services else "sqlite+filesystem"
        expected_ids: set[str] = set()
        total_posts = 0
        repeats = int(args.messages * args.duplicates)
        servers: list[Server] = []
        try:
            for index, config in enumerate(configs):
                tag = f"c{index}"
                expected_ids.update(message_id(n, tag) for n in range(args.messages))
                posts = list(range(args.messages)) + random.sample(range(args.messages), repeats)
                random.shuffle(posts)
                total_posts += len(posts)
                bodies = [message(n, image, tag) for n in range(args.messages)]
                servers.append(
                    Server(config=config, env=env, bodies=bodies, posts=posts, clients=args.clients)
                )
            load_interleaved(servers, chunk=args.chunk)
        finally:
            for server in servers:
                server.stop()
        for server in servers:
            figures = server.figures()
            common = {
                "config": server.config,
                "cores": os.cpu_count(),
                "clients": args.clients,
                "shape": shape,
            }
            emit("webhook_requests_per_s", figures["requests_per_s"], "req/s", goal=">=200", **common)
            emit("webhook_latency_p50", figures["p50"], "ms", **common)
            emit("webhook_latency_p99", figures["p99"], "ms", goal="<150", **common)
            # CPU of the gunicorn workers only: steadier than req/s when the machine is shared
            emit("webhook_cpu_per_request", figures["cpu_ms_per_request"], "ms", **common)
            statuses = figures["statuses"]
            # every post is tallied: one 202 per distinct message, one 200 per repeat, nothing else
            emit(
                "webhook_statuses_as_expected",
                float(statuses == Counter({202: args.messages, 200: repeats})),
                "bool",
                config=server.config,
                posts=len(server.posts),
                tallied=sum(statuses.values()),
                statuses={str(k): v for k, v in sorted(statuses.items())},
            )
        del servers
        emit("webhook_message_size", len(message(0, image)) / 1024, "KiB")

        # Drain the intake queue and check: every distinct message is exactly one ticket.
        worker = start_process_group(
            [sys.executable, "-m", "celery", "-A", "triage", "worker", "-Q", "intake", "--concurrency", "4",
             "--loglevel", "WARNING", "--without-mingle", "--without-gossip", "-n", f"bench{os.getpid()}@%h"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        os.environ.update({k: v for k, v in env.items() if k != "DJANGO_SETTINGS_MODULE"})
        os.environ["DJANGO_SETTINGS_MODULE"] = "triage.settings"
        import django

        django.setup()
        from django.db.models import Count

        from triage.models import InboundEmail, Ticket

        distinct = len(expected_ids)
        drain_started = time.perf_counter()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if InboundEmail.objects.filter(status=InboundEmail.Status.TICKETED).count() >= distinct:
                break
            time.sleep(0.5)
        emit("intake_drain", time.perf_counter() - drain_started, "s", messages=distinct)
        rows = InboundEmail.objects.count()
        ticketed = InboundEmail.objects.filter(status=InboundEmail.Status.TICKETED).count()
        tickets = Ticket.objects.count()
        stored_ids = set(InboundEmail.objects.values_list("message_id", flat=True))
        per_ticket = set(
            InboundEmail.objects.order_by()
            .values("ticket_id")
            .annotate(n=Count("id"))
            .values_list("n", flat=True)
        )
        emit(
            "every_message_one_ticket",
            float(
                stored_ids == expected_ids and rows == ticketed == tickets == distinct and per_ticket == {1}
            ),
            "bool",
            messages=distinct,
            posts=total_posts,
            rows=rows,
            ticketed=ticketed,
            tickets=tickets,
            missing=len(expected_ids - stored_ids),
            unexpected=len(stored_ids - expected_ids),
        )
    finally:
        if worker is not None:
            stop_process_group(worker)
        if services:
            drop_database(db_name)


if __name__ == "__main__":
    main()
