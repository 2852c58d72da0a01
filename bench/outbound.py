"""Outbound mail through the `outbound` worker to a local SMTP server.

    python bench/outbound.py [--replies 50] [--acks 1000] [--concurrency 8]

- reply submit -> accepted by the SMTP server: an agent's POST to the ticket's reply URL (Django
  test client, in this process) until the local aiosmtpd server has the message with that
  Message-ID, one reply at a time: p50 and p95 (goal p95 < 2 s).
- 1,000 acknowledgements to distinct senders, each asked for twice (the throttle must refuse the
  second) and each send published twice (a duplicate delivery the outbox must absorb): mails per
  second accepted by the SMTP server, and duplicates (goal 0).

Needs PostgreSQL and Redis on 127.0.0.1 (a throwaway database and Redis db 7 by default; the
worker is a real `celery worker -Q outbound --pool threads` process). Prints one JSON object per line.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._harness import create_database, drop_database, emit, process_group  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replies", type=int, default=50)
    parser.add_argument("--acks", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/7")
    args = parser.parse_args()

    from aiosmtpd.controller import Controller

    from tests.smtp_fake import SMTPServer

    db = f"triage_bench_outbound_{os.getpid()}"
    database_url = create_database(db, server=args.pg)
    smtp = SMTPServer()
    smtp.start()
    assert isinstance(smtp._controller, Controller)
    scratch = Path(tempfile.mkdtemp(prefix="triage-bench-outbound-"))
    env = {
        "DJANGO_SETTINGS_MODULE": "triage.settings",
        "TRIAGE_VAR_DIR": str(scratch),
        "MEDIA_ROOT": str(scratch / "media"),
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": args.redis,
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp.port),
        "TRIAGE_ACK_MIN_INTERVAL_S": "3600",
        "TRIAGE_POLL_INTERVAL_S": "1",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from triage.celery import app

        with app.connection_for_write() as conn, contextlib.suppress(Exception):
            conn.default_channel.queue_purge("outbound")  # a queue not declared yet has nothing to purge
        worker = [
            sys.executable, "-m", "celery", "-A", "triage", "worker", "-Q", "outbound", "--pool", "threads",
            "--concurrency", str(args.concurrency), "--loglevel", "WARNING", "-n", f"bench-outbound-{os.getpid()}@%h",
            "--without-mingle", "--without-gossip", "--without-heartbeat",
        ]  # fmt: skip
        with process_group(
            worker, cwd=ROOT, env={**os.environ}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ):
            run(args, smtp)
    finally:
        smtp.stop()
        drop_database(db, server=args.pg)


def _wait(smtp, predicate, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate(smtp.received):
            return
        time.sleep(0.002)
    raise SystemExit(f"timed out: the SMTP server has {len(smtp.received)} mails")


def _arrived(before: int, message_id: str):
    return lambda got: len(got) > before and any(message_id in r.raw.decode("latin-1") for r in got[before:])


def _at_least(count: int):
    return lambda got: len(got) >= count


def run(args: argparse.Namespace, smtp) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from triage.models import OutboundEmail, Ticket
    from triage.services.outbound import ticket_acknowledge
    from triage.tasks import outbound_email_send_task

    agent = get_user_model().objects.create_user(username="bench-agent")
    ticket = Ticket.objects.create(
        subject="Checkout fails", requester_email="maria@example.com", channel="EMAIL", status="REVIEWED"
    )
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(agent)
    # the worker is up when a first reply comes through
    client.post(f"/tickets/{ticket.id}/reply/", {"to": "maria@example.com", "body": "warm-up"})
    _wait(smtp, _at_least(1), timeout=90)

    latencies = []
    for n in range(args.replies):
        before = len(smtp.received)
        start = time.perf_counter()
        response = client.post(
            f"/tickets/{ticket.id}/reply/", {"to": "maria@example.com", "body": f"Reply {n}"}
        )
        assert response.status_code == 302, response.status_code
        message_id = OutboundEmail.objects.filter(kind="REPLY").latest("id").message_id
        _wait(smtp, _arrived(before, message_id))
        latencies.append(time.perf_counter() - start)
    latencies.sort()
    p95 = latencies[max(0, int(round(0.95 * len(latencies))) - 1)]
    emit("reply_submit_to_smtp_p50", statistics.median(latencies), "s", n=len(latencies))
    emit("reply_submit_to_smtp_p95", p95, "s", n=len(latencies), goal="< 2")

    before = len(smtp.received)
    start = time.perf_counter()
    queued = 0
    for n in range(args.acks):
        sender = f"customer{n}@example.com"
        mail = ticket_acknowledge(ticket=ticket, recipient=sender)  # autocommit: published at once
        queued += mail is not None
        assert ticket_acknowledge(ticket=ticket, recipient=sender) is None  # throttled
        if mail is not None:
            outbound_email_send_task.delay(outbound_email_id=mail.id)  # a duplicate delivery
    enqueued_s = time.perf_counter() - start
    _wait(smtp, _at_least(before + queued), timeout=600)
    time.sleep(1.0)  # a late duplicate would arrive now
    elapsed = time.perf_counter() - start
    got = smtp.received[before:]
    per_recipient = Counter(tuple(r.rcpt_tos) for r in got)
    duplicates = sum(n - 1 for n in per_recipient.values())
    emit("acks_queued", queued, "mails", asked=2 * args.acks)
    emit("acks_enqueue_time", enqueued_s, "s")
    emit("acks_throughput", len(got) / (elapsed - 1.0), "mails/s", n=len(got))
    emit("acks_duplicates", duplicates, "mails", goal="== 0")


if __name__ == "__main__":
    main()
