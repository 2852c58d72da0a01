"""Triage of one ticket whose mail body is huge (a pasted log, a forwarded archive): seconds and
worker memory growth on the real service path (ticket_triage with the offline model, the default
provider), for 2.2 MB and 8 MB bodies. Also the size of the text Kimi would be sent.

    python bench/large_mail.py [--sizes 2.2,8]

Each size runs in a fresh process on a scratch SQLite database, after one small ticket has been
triaged (the models are loaded and fitted, as in a worker that has been up for a while). Memory
growth is the peak RSS during the triage (sampled every 5 ms) minus the RSS before it.
Prints one JSON object per line: {"metric", "value", "unit", "goal"}.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def emit(metric: str, value: float, unit: str, goal: str | None = None, **extra: object) -> None:
    print(
        json.dumps({"metric": metric, "value": round(value, 3), "unit": unit, "goal": goal, **extra}),
        flush=True,
    )


def body(megabytes: float) -> str:
    """A support mail whose question is at the top, then a pasted application log (varied lines,
    as logs are), then a closing line: what a requester sends when asked for "the logs"."""
    rng = random.Random(7)
    words = [
        "payment",
        "checkout",
        "order",
        "invoice",
        "customer",
        "session",
        "token",
        "request",
        "timeout",
        "retry",
        "database",
        "connection",
        "pool",
        "worker",
        "queue",
        "cache",
        "user",
        "login",
        "password",
        "export",
        "report",
        "refund",
        "card",
    ]
    head = (
        "Hello support,\n\nour checkout fails with HTTP 500 since this morning when customers pay by "
        "card. The full application log of the night is below.\n\n"
    )
    lines: list[str] = [head]
    size = len(head)
    target = int(megabytes * 1_000_000)
    n = 0
    while size < target:
        n += 1
        line = (
            f"2026-03-02T0{n % 10}:{n % 60:02d}:{(n * 7) % 60:02d}Z "
            f"{rng.choice(['INFO', 'WARN', 'ERROR'])} "
            f"{' '.join(rng.choice(words) for _ in range(rng.randint(6, 14)))} id={rng.getrandbits(40):x}\n"
        )
        lines.append(line)
        size += len(line)
    lines.append("\nThanks, please hurry: we lose orders.\nMaria\n")
    return "".join(lines)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child(megabytes: float) -> None:
    import django

    django.setup()
    from triage.adapters.llm.prompt import build_messages
    from triage.models import Ticket
    from triage.selectors import taxonomy_get
    from triage.services.triage import ticket_input_build, ticket_triage

    def ticket(description: str) -> Ticket:
        return Ticket.objects.create(
            subject="Checkout fails with HTTP 500",
            description=description,
            requester_email="maria@example.com",
            channel=Ticket.Channel.EMAIL,
            status=Ticket.Status.TRIAGING,
        )

    warm = ticket("Checkout fails with HTTP 500 when paying by card.")
    assert ticket_triage(ticket_id=warm.id) is not None  # models loaded and fitted
    text = body(megabytes)
    big = ticket(text)
    del text
    before = _rss_bytes()
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss_bytes())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    run = ticket_triage(ticket_id=big.id)
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    peak = max(peak, _rss_bytes())
    assert run is not None and run.status == run.Status.DONE, run and run.error_message
    big.refresh_from_db()
    assert len(big.description) >= megabytes * 1_000_000  # the ticket keeps the whole text
    prompt = build_messages(ticket_input_build(ticket=big), taxonomy_get())
    label = f"{megabytes:g}mb"
    emit(f"large_mail_{label}_triage", elapsed, "s", "<= 3", body_bytes=len(big.description.encode()))
    emit(f"large_mail_{label}_worker_growth", (peak - before) / 1e6, "MB", "<= 100")
    emit(f"large_mail_{label}_kimi_prompt_chars", len(json.dumps(prompt)), "chars")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="2.2,8", help="body sizes in MB, comma-separated")
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child)
        return
    for size in (float(s) for s in args.sizes.split(",")):
        scratch = Path(tempfile.mkdtemp(prefix="triage-bench-mail-"))
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "triage.settings",
            "TRIAGE_VAR_DIR": str(scratch),
            "DATABASE_URL": f"sqlite:///{scratch / 'bench.sqlite3'}",
            "CELERY_BROKER_URL": "filesystem://",
            "TRIAGE_PROVIDER": "local",
        }
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        subprocess.run([sys.executable, __file__, "--child", str(size)], cwd=ROOT, env=env, check=True)


if __name__ == "__main__":
    main()
