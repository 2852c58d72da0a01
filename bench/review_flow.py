"""Reviewing a saved queue view from the keyboard only, in Chromium, against a real server.

    python bench/review_flow.py [--tickets 50] [--gunicorn-workers 2] [--headed]

Builds a scratch PostgreSQL database (triage_bench_review_<pid>, dropped afterwards) with
--tickets + 1 triaged tickets in the view "Needs review, Bug / error, oldest first" (a screenshot on
every second one) and as many outside it (other categories, already reviewed) interleaved, saves
that view for a reviewer, starts gunicorn (DEBUG off, collected static files) and drives Debian's
chromium (Playwright, the browser tests' flags) through it: open the saved view, `j` `o` on the
first row, then per ticket either `a` (accept as proposed: Accept & next), or a correction of one
field (`e`, [`Tab`], `ArrowDown`, `Ctrl+Enter`: Save & next) on every second ticket, alternating
Category and Priority. The last decision still has a next ticket (the extra one), so every one of
the --tickets decisions is timed. Afterwards every decision is checked in the database.

Keystrokes are the key presses the driver sends per ticket (a chord such as Ctrl+Enter is one
press; `keys_down` counts its keys). The decision-to-next-ticket time (the figure with the goal)
runs from just before the key press to the next ticket's load event, on the browser's clock (the new
document's timeOrigin + loadEventEnd; its title is in the HTML, and checked visible);
`seen_by_driver` is the same span until Playwright has noticed the URL, the load event and the
visible title (its own latency added). Navigation Timing splits it: key to navigation start (the
key handler, the click, the form), the decision's POST + redirect (the decision's server time), the
next page's time to first byte (its server time) and the browser's own part (response end to load
end). Prints one JSON object per line, plus the machine's load average.

Needs PostgreSQL and Redis on 127.0.0.1 (Redis database TRIAGE_BENCH_REDIS_DB, default 4, flushed).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

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
from bench.webhook import free_port, reachable  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
# the flags of tests/browser/conftest.py
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
VIEW_QUERY = "status=needs_review&category=bug&sort=oldest"
PASSWORD = "bench-reviewer-pass"  # noqa: S105 - a throwaway user of a throwaway database
NAV_TIMING = """() => {
  const n = performance.getEntriesByType("navigation")[0];
  return {origin: performance.timeOrigin, redirect: n.redirectEnd - n.redirectStart, fetch_start: n.fetchStart,
          ttfb: n.responseStart - n.requestStart, response_end: n.responseEnd, load_end: n.loadEventEnd};
}"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))] if ordered else 0.0


def populate(count: int) -> list[int]:
    """`count` tickets in the view, oldest first, with tickets outside it interleaved; their ids."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from tests.factories import AttachmentFactory, RenditionFactory, taxonomy_rows, triaged_ticket
    from triage.demo_media import render_screenshot
    from triage.models import SavedView, Ticket

    taxonomy_rows()
    user = get_user_model().objects.create_user("reviewer", password=PASSWORD, first_name="Rita")
    SavedView.objects.create(name="Bugs to review", owner=user, query=VIEW_QUERY)
    start = timezone.now() - timedelta(days=1)
    in_view: list[int] = []
    for i in range(count):
        ticket = triaged_ticket(
            subject=f"Checkout fails with error 500 (case {i})",
            requester_email=f"customer{i}@example.com",
            description="Hello, since this morning every payment attempt ends with an error page and "
            f"our team is blocked. Order {10000 + i}, browser Firefox.\n" * 3,
        )
        if i % 2 == 0:
            shot = render_screenshot(
                title="Acme Shop - Checkout",
                lines=[f"Order #{10000 + i}", "Total: 129.00 EUR", "[ Pay now ]"],
                error_dialog="Payment failed: HTTP 500 Internal Server Error",
            )
            image = AttachmentFactory(
                ticket=ticket, content=shot, original_name="checkout.png", width=1440, height=900
            )
            RenditionFactory(attachment=image, content=shot, width=1440, height=900)
        outside = triaged_ticket(subject=f"Invoice shows the wrong VAT (case {i})")
        Ticket.objects.filter(id=outside.id).update(
            category="billing" if i % 2 else "bug",
            status=Ticket.Status.NEEDS_REVIEW if i % 2 else Ticket.Status.REVIEWED,
            created_at=start + timedelta(minutes=2 * i + 1),
        )
        Ticket.objects.filter(id=ticket.id).update(created_at=start + timedelta(minutes=2 * i))
        in_view.append(ticket.id)
    return in_view


def drive(base: str, ids: list[int], decide: int, headed: bool) -> dict:  # noqa: PLR0915 - one linear walk
    from playwright.sync_api import expect, sync_playwright

    from triage.models import SavedView, Ticket

    view = SavedView.objects.get()
    subjects = dict(Ticket.objects.filter(id__in=ids).values_list("id", "subject"))
    plan: dict[int, str] = {}  # ticket id -> "accept" | "category" | "priority"
    presses: dict[str, list[tuple[int, int]]] = {"accept": [], "corrected": []}  # (presses, keys down)
    wall_ms: list[float] = []
    parts: dict[str, list[float]] = {
        name: []
        for name in (
            "key_to_navigation",
            "browser_total",
            "post_redirect",
            "next_ttfb",
            "browser",
            "load_to_seen",
        )
    }
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=not headed)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
        page.goto(f"{base}/accounts/login/")
        page.get_by_label("Username").fill("reviewer")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{base}/")
        # open the saved view (its sidebar link), then the first row from the keyboard
        page.goto(f"{base}/?{VIEW_QUERY}&view={view.id}")
        expect(page.locator("table.queue tbody tr").first).to_have_id(f"ticket-row-{ids[0]}")
        page.keyboard.press("j")
        expect(page.locator(f"#ticket-row-{ids[0]}")).to_be_focused()
        page.keyboard.press("o")
        page.wait_for_url(re.compile(rf"/tickets/{ids[0]}/\?view="), wait_until="load")
        heading = page.get_by_role("heading", level=1)
        for n in range(decide):
            ticket, following = ids[n], ids[n + 1]
            expect(heading).to_contain_text(subjects[ticket])
            kind = "accept" if n % 2 == 0 else ("category" if n % 4 == 1 else "priority")
            plan[ticket] = kind
            sent: list[str] = []

            def press(key: str, sent: list[str] = sent) -> None:
                sent.append(key)
                page.keyboard.press(key)

            if kind == "accept":
                started, started_epoch = time.perf_counter(), time.time() * 1000
                press("a")
            else:
                press("e")
                if kind == "priority":
                    press("Tab")
                field = page.locator(f"#id_{kind}")
                expect(field).to_be_focused()
                before = field.input_value()
                press("ArrowDown")
                if field.input_value() == before:
                    raise SystemExit(f"ArrowDown did not change {kind} on ticket {ticket}")
                started, started_epoch = time.perf_counter(), time.time() * 1000
                press("Control+Enter")
            page.wait_for_url(re.compile(rf"/tickets/{following}/\?view="), wait_until="load")
            expect(heading).to_contain_text(subjects[following])
            heading.wait_for(state="visible")
            wall_ms.append((time.perf_counter() - started) * 1000)
            seen_epoch = started_epoch + wall_ms[-1]
            timing = page.evaluate(NAV_TIMING)
            # from the key press to the navigation's start: the key handler, the click, the form
            parts["key_to_navigation"].append(timing["origin"] - started_epoch)
            # from the load event to the driver seeing it (Playwright's own latency)
            parts["load_to_seen"].append(seen_epoch - timing["origin"] - timing["load_end"])
            parts["browser_total"].append(timing["load_end"])
            parts["post_redirect"].append(timing["redirect"])
            parts["next_ttfb"].append(timing["ttfb"])
            parts["browser"].append(timing["load_end"] - timing["response_end"])
            keys_down = sum(len(k.split("+")) for k in sent)
            presses["accept" if kind == "accept" else "corrected"].append((len(sent), keys_down))
        browser.close()
    return {"plan": plan, "presses": presses, "wall_ms": wall_ms, "parts": parts}


def check(plan: dict[int, str]) -> None:
    """Every ticket the driver decided was decided as meant: accepted, or exactly one field corrected."""
    from triage.models import ReviewDecision, Ticket

    for ticket_id, kind in plan.items():
        decision = ReviewDecision.objects.get(ticket_id=ticket_id)
        changed = sorted(k for k in decision.after if decision.before.get(k) != decision.after.get(k))
        if kind == "accept":
            ok = decision.action == ReviewDecision.Action.ACCEPT and not changed
        else:
            ok = decision.action == ReviewDecision.Action.CORRECT and changed == [kind]
        if not ok:
            raise SystemExit(f"ticket {ticket_id}: meant {kind}, got {decision.action} changing {changed}")
        if Ticket.objects.get(id=ticket_id).status != Ticket.Status.REVIEWED:
            raise SystemExit(f"ticket {ticket_id} is not reviewed")


def main() -> None:  # noqa: PLR0915 - one linear script: set up, drive, check, tear down
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=50, help="decisions to make (and time)")
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--headed", action="store_true", help="show the browser")
    args = parser.parse_args()
    if args.tickets < 2:
        parser.error("--tickets must be at least 2 (one accepted, one corrected)")
    if not (reachable(5432) and reachable(6379)):
        raise SystemExit("bench/review_flow.py needs PostgreSQL and Redis on 127.0.0.1")

    scratch = Path(tempfile.mkdtemp(prefix="triage-bench-review-"))
    db_name = f"triage_bench_review_{os.getpid()}"
    broker_url = redis_url(4)
    database_url = create_database(db_name)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "triage.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-" + "x" * 50,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_COOKIES": "0",
        "INBOUND_EMAIL_SECRET": "bench-only",
        "ANYMAIL_WEBHOOK_SECRET": "bench:only",
        "TRIAGE_VAR_DIR": str(scratch),
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "TRIAGE_PROVIDER": "local",
        "TRIAGE_OCR_ENABLED": "0",
        "LOG_LEVEL": "WARNING",
    }
    server: subprocess.Popen | None = None
    try:
        for command in (["migrate", "-v", "0"], ["collectstatic", "--noinput", "-v", "0"]):
            subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True)
        flush_redis(broker_url)
        os.environ.update(env)
        import django

        django.setup()
        ids = populate(args.tickets + 1)

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_process_group(
            [sys.executable, "-m", "gunicorn", "triage.wsgi", "--bind", f"127.0.0.1:{port}",
             "--workers", str(args.gunicorn_workers), "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=sys.stderr,  # stdout is JSON lines only
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not reachable(port):
            if time.monotonic() > deadline:
                raise SystemExit("gunicorn did not start")
            time.sleep(0.2)

        load_before = os.getloadavg()
        result = drive(base, ids, args.tickets, args.headed)
        check(result["plan"])

        where = {"tickets": args.tickets, "view": VIEW_QUERY}
        for kind, goal in (("accept", "<= 2"), ("corrected", "<= 6")):
            counts = result["presses"][kind]
            emit(
                f"review_keystrokes_per_ticket_{'accepted' if kind == 'accept' else 'one_field_corrected'}",
                statistics.mean(c for c, _ in counts),
                "keys",
                goal=goal,
                max=max(c for c, _ in counts),
                keys_down=statistics.mean(d for _, d in counts),
                decided=len(counts),
                **where,
            )
        # the browser's clock: key press -> the next ticket's load event (its title is in the HTML)
        shown = [
            k + total
            for k, total in zip(
                result["parts"]["key_to_navigation"], result["parts"]["browser_total"], strict=True
            )
        ]
        for name, values in (("shown", shown), ("seen_by_driver", result["wall_ms"])):
            for q, goal in ((0.5, "-"), (0.95, "< 400")):
                emit(
                    f"review_decision_to_next_{name}_p{int(q * 100)}_ms",
                    pct(values, q),
                    "ms",
                    goal=goal if name == "shown" else "-",
                    samples=len(values),
                    max=round(max(values), 1),
                    **where,
                )
        for name, values in result["parts"].items():
            for q in (0.5, 0.95):
                emit(f"review_nav_{name}_p{int(q * 100)}_ms", pct(values, q), "ms", goal="-", **where)
        emit(
            "bench_load_average",
            os.getloadavg()[0],
            "load",
            goal="-",
            before=round(load_before[0], 2),
            cores=os.cpu_count(),
        )
    finally:
        if server is not None:
            stop_process_group(server)
        drop_database(db_name)
        flush_redis(broker_url, check=False)


if __name__ == "__main__":
    main()
