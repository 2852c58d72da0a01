"""The manager dashboard over the export bench's tickets (1,000,000 by default, see bench/export.py):
the time report_dashboard_get takes for all time and for the default last 28 days, the number of
SQL statements it sends, and its slowest statements.

    python bench/dashboard.py [--rows 1000000] [--repeat 3]

Reuses (or builds) the database of bench/export.py. Prints one JSON object per line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import export  # noqa: E402  (bench/export.py: the data and the process environment)


def child(repeat: int) -> None:
    import django

    django.setup()
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from triage.selectors.reports import ReportFilters, report_dashboard_get

    today = timezone.localdate()
    cases = {
        "all_time": ReportFilters(),
        "last_28_days": ReportFilters(date_from=today - timedelta(days=27), date_to=today),
    }
    for name, filters in cases.items():
        times: list[float] = []
        statements: list[tuple[float, str]] = []

        def timed(execute, sql, params, many, context, log=statements):  # noqa: ANN001
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                log.append((time.perf_counter() - started, " ".join(sql.split())[:140]))

        for _ in range(repeat):
            statements.clear()
            with connection.execute_wrapper(timed):
                started = time.perf_counter()
                d = report_dashboard_get(filters=filters)
                times.append(time.perf_counter() - started)
        slowest = sorted(statements, reverse=True)[:4]
        print(
            json.dumps(
                {
                    "case": name,
                    "ms": [round(t * 1000, 1) for t in times],
                    "tickets": d.tickets,
                    "statements": len(statements),
                    "slowest": [[round(s * 1000, 1), q] for s, q in slowest],
                }
            ),
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        os.environ.update(export.env())
        child(args.repeat)
        return
    export.prepare(args.rows, fresh=False)
    out = subprocess.run(
        [sys.executable, __file__, "--child", "--repeat", str(args.repeat)],
        cwd=ROOT,
        env=export.env(),
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise SystemExit(f"bench child failed:\n{out.stderr[-3000:]}")
    for line in out.stdout.strip().splitlines():
        case = json.loads(line)
        goal = "-"  # the issue sets no goal for the dashboard's time
        export.emit(
            f"dashboard_{case['case']}_ms",
            statistics.median(case["ms"]),
            "ms",
            goal,
            runs_ms=case["ms"],
            tickets=case["tickets"],
            statements=case["statements"],
        )
        for ms, sql in case["slowest"]:
            print(json.dumps({"case": case["case"], "statement_ms": ms, "sql": sql}), flush=True)


if __name__ == "__main__":
    main()
