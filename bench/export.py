"""Export throughput and memory: N tickets (1,000,000 by default) in PostgreSQL, exported as CSV and
as XLSX through the same code the app uses (services/export_engine.report_ticket_rows + the export
adapter), once for a tenth of the rows and once for all of them, each in a fresh process. The CSV
runs twice side by side: one COPY stream (the export before parallel streams) and --streams
parallel COPY streams (TRIAGE_REPORT_COPY_STREAMS, what the app does now).

    python bench/export.py [--rows 1000000] [--streams 2] [--fresh] [--skip-xlsx]

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth); the data lives in its own database
(triage_bench_export, or TRIAGE_BENCH_EXPORT_DB), built once with generate_series and reused while
its row count matches.
Prints one JSON object per line: {"metric", "value", "unit", "goal", ...}.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._harness import emit  # noqa: E402

# TRIAGE_BENCH_EXPORT_DB: another name, for a second data set (or bench run) beside the usual one
DB_NAME = os.environ.get("TRIAGE_BENCH_EXPORT_DB", "triage_bench_export")
PG = os.environ.get("TRIAGE_BENCH_PG", "postgres://postgres@127.0.0.1:5432")


def env() -> dict[str, str]:
    scratch = Path(tempfile.gettempdir()) / "triage-bench-export"
    scratch.mkdir(exist_ok=True)
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "triage.settings",
        "DATABASE_URL": f"{PG}/{DB_NAME}",
        "TRIAGE_VAR_DIR": str(scratch),
        "CELERY_BROKER_URL": "filesystem://",
        "TRIAGE_PROVIDER": "local",
        "LOG_LEVEL": "WARNING",
        # production shape: DEBUG off (DEBUG keeps every query in memory)
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-only",
        # production settings require the webhook secrets; the bench posts no mail
        "INBOUND_EMAIL_SECRET": "bench-only",
        "ANYMAIL_WEBHOOK_SECRET": "bench:only",
    }


# ---- data -----------------------------------------------------------------------------------

POPULATE = """
TRUNCATE triage_reviewdecision, triage_attachment, triage_triagerun, triage_ticket RESTART IDENTITY CASCADE;
INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
VALUES ('!', false, 'bench-reviewer', 'Bench', 'Reviewer', 'r@example.com', false, true, now())
ON CONFLICT (username) DO NOTHING;

-- tickets spread over 90 days; every 5th from email; a mix of statuses and values
INSERT INTO triage_ticket (subject, description, requester_email, channel, status, created_at, updated_at,
    triaged_at, reviewed_at, reviewed_by_id, summary, category, priority, queue, sentiment, language, confidence,
    link_kind)
SELECT
    CASE WHEN g % 1000 = 0 THEN '=HYPERLINK("http://x","click") ticket ' || g
         ELSE 'Checkout fails with error 500, case ' || g END,
    'Every card payment fails at the last step.',
    'customer' || g || '@example.com',
    CASE WHEN g % 5 = 0 THEN 'EMAIL' ELSE 'WEB' END,
    CASE WHEN g % 20 = 0 THEN 'MANUAL_TRIAGE' WHEN g % 3 = 0 THEN 'NEEDS_REVIEW' ELSE 'REVIEWED' END,
    ts, ts + interval '1 hour',
    ts + (g % 300) * interval '1 second',
    CASE WHEN g % 20 <> 0 AND g % 3 <> 0 THEN ts + (g % 300) * interval '1 second' + (g % 7200) * interval '1 second' END,
    CASE WHEN g % 20 <> 0 AND g % 3 <> 0 THEN (SELECT id FROM auth_user WHERE username = 'bench-reviewer') END,
    'Card payments fail at checkout with HTTP 500 after the customer confirms the order.',
    (ARRAY['bug','billing','account_access','how_to'])[1 + g % 4],
    (ARRAY['low','normal','high','urgent'])[1 + g % 4],
    (ARRAY['tier1','tier2','engineering','billing_team'])[1 + g % 4],
    (ARRAY['negative','neutral','positive'])[1 + g % 3],
    'en', 0.5 + (g % 50) / 100.0, ''
FROM (SELECT g, now() - interval '90 days' + (g::float / %(n)s) * interval '90 days' AS ts
      FROM generate_series(1, %(n)s) AS g) s;

-- one model run per ticket (kimi for two in three, local otherwise; failed for manual triage)
INSERT INTO triage_triagerun (ticket_id, provider, model, prompt_version, status, started_at, finished_at,
    latency_ms, result, raw_output, reasoning, error_kind, error_message, prompt_tokens, completion_tokens, cached_tokens,
    details, cost_usd, catch_up, provisional)
SELECT t.id,
    CASE WHEN t.id % 3 = 0 THEN 'local' ELSE 'kimi' END,
    CASE WHEN t.id % 3 = 0 THEN 'local-tfidf-v1' ELSE 'kimi-k2.6' END,
    'v1',
    CASE WHEN t.status = 'MANUAL_TRIAGE' THEN 'FAILED' ELSE 'DONE' END,
    t.triaged_at, t.triaged_at, 1200,
    CASE WHEN t.status = 'MANUAL_TRIAGE' THEN NULL ELSE jsonb_build_object(
        'summary', t.summary,
        'category', jsonb_build_object('value', CASE WHEN t.id % 7 = 0 THEN 'billing' ELSE t.category END, 'confidence', 0.91),
        'priority', jsonb_build_object('value', t.priority, 'confidence', 0.8),
        'queue', jsonb_build_object('value', t.queue, 'confidence', 0.77),
        'sentiment', jsonb_build_object('value', t.sentiment, 'confidence', 0.6),
        'language', jsonb_build_object('value', 'en', 'confidence', 0.99)) END,
    '', '', CASE WHEN t.status = 'MANUAL_TRIAGE' THEN 'timeout' ELSE '' END, '',
    4000 + t.id % 3000, CASE WHEN t.status = 'MANUAL_TRIAGE' THEN 0 ELSE 300 + t.id % 200 END, t.id % 2000,
    '{}'::jsonb, 0, false, false
FROM triage_ticket t;
UPDATE triage_ticket t SET latest_run_id = r.id FROM triage_triagerun r WHERE r.ticket_id = t.id;

-- a screenshot on every other ticket, a rejected file on every tenth
INSERT INTO triage_attachment (ticket_id, kind, status, sha256, file, mime, size_bytes, original_name, metadata,
    reject_reason, failure_kind, created_at, sweeps)
SELECT t.id, 'IMAGE', CASE WHEN t.id % 10 = 0 THEN 'REJECTED' ELSE 'DONE' END, md5(t.id::text), 'originals/x.png',
    'image/png', 12345, 'screenshot.png', '{}', '', '', t.created_at, 0
FROM triage_ticket t WHERE t.id % 2 = 0;
ANALYZE;
"""


def prepare(rows: int, fresh: bool) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        if exists and fresh:
            conn.execute(f"DROP DATABASE {DB_NAME}")
            exists = None
        if not exists:
            conn.execute(f"CREATE DATABASE {DB_NAME}")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env(), check=True)
    with psycopg.connect(f"{PG}/{DB_NAME}", autocommit=True) as conn:
        have = conn.execute("SELECT count(*) FROM triage_ticket").fetchone()[0]
        if have != rows:
            started = time.perf_counter()
            with conn.transaction():
                conn.execute(POPULATE.replace("%(n)s", str(int(rows))))
            emit("bench_populate_seconds", time.perf_counter() - started, "s", "-", rows=rows)
        # what autovacuum does to a live table: dead rows gone (the latest_run_id update leaves
        # a million) and the visibility map set, so covering indexes answer without the table;
        # quick when nothing changed since the last run
        conn.execute("VACUUM (ANALYZE) triage_ticket, triage_triagerun, triage_attachment")


# ---- one measured export, in a fresh process ---------------------------------------------------


def child(fmt: str, rows_wanted: int, total: int, streams: int) -> None:
    import django

    django.setup()
    from datetime import timedelta

    from django.utils import timezone

    from triage.selectors.reports import ReportFilters
    from triage.services import reports

    filters = ReportFilters()
    if rows_wanted < total:  # the data spans 90 days evenly: a date range picks about rows_wanted
        days = max(1, round(90 * rows_wanted / total))
        end = timezone.localdate()
        filters = ReportFilters(date_from=end - timedelta(days=days - 1), date_to=end)
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    count = 0

    def progress(n: int) -> None:
        nonlocal count
        count = n

    started = time.perf_counter()
    if fmt == "csv":
        with open(os.devnull, "wb") as sink:
            for block in reports.report_csv_stream(filters=filters, on_progress=progress, streams=streams):
                sink.write(block)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            result = reports.report_xlsx_write(
                filters=filters, path=Path(tmp) / "out.xlsx", on_progress=progress
            )
            count = result.rows
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": count, "seconds": seconds, "peak_kb": peak_kb, "base_kb": base_kb}))


def measure(fmt: str, rows_wanted: int, total: int, streams: int = 1) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", fmt, str(rows_wanted), str(total), str(streams)],
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise SystemExit(f"bench child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--fresh", action="store_true", help="rebuild the bench database")
    parser.add_argument("--skip-xlsx", action="store_true")
    parser.add_argument("--streams", type=int, default=2, help="parallel COPY streams for the CSV")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        os.environ.update(env())
        child(args.child[0], int(args.child[1]), int(args.child[2]), int(args.child[3]))
        return

    prepare(args.rows, args.fresh)
    runs = [("csv", 1, "_one_stream"), ("csv", args.streams, "")]
    if not args.skip_xlsx:
        runs.append(("xlsx", 1, ""))
    for fmt, streams, suffix in runs:
        small = measure(fmt, args.rows // 10, args.rows, streams)
        full = measure(fmt, args.rows, args.rows, streams)
        rate = full["rows"] / full["seconds"]
        peak_mb, small_mb = full["peak_kb"] / 1024, small["peak_kb"] / 1024
        goal = fmt == "csv" and not suffix
        emit(
            f"export_{fmt}_rows_per_s{suffix}",
            rate,
            "rows/s",
            ">= 50000" if goal else "-",
            rows=full["rows"],
            seconds=round(full["seconds"], 1),
            streams=streams,
        )
        emit(
            f"export_{fmt}_peak_rss_mb{suffix}",
            peak_mb,
            "MB",
            ("< 150" if goal else "-") if fmt == "csv" else "flat",
            rows=full["rows"],
            baseline_mb=round(full["base_kb"] / 1024, 1),
        )
        emit(
            f"export_{fmt}_rss_growth_mb{suffix}",
            peak_mb - small_mb,
            "MB",
            "~0 (flat with row count)" if goal or fmt == "xlsx" else "-",
            from_rows=small["rows"],
            to_rows=full["rows"],
            small_peak_mb=round(small_mb, 1),
        )


if __name__ == "__main__":
    main()
