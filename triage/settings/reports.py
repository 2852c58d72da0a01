"""The reports dashboard and its exports (the weekly email's schedule is in settings/celery.py)."""

from __future__ import annotations

from triage.settings.base import env

# Exports with more rows than this run on the `reports` queue; smaller ones download at once.
TRIAGE_REPORT_SYNC_MAX_ROWS = env.int("TRIAGE_REPORT_SYNC_MAX_ROWS", default=5000)
TRIAGE_REPORT_EXPIRE_HOURS = env.int("TRIAGE_REPORT_EXPIRE_HOURS", default=24)
# CSV exports on PostgreSQL: parallel COPY streams (connections) per export; 1 = one stream.
TRIAGE_REPORT_COPY_STREAMS = env.int("TRIAGE_REPORT_COPY_STREAMS", default=2)
# Longest date range the dashboard and exports accept, and the window dates must fall in (the
# first year of data to a year from now): a 100-year range or 9999-12-31 is refused with a message.
TRIAGE_REPORT_MAX_DAYS = env.int("TRIAGE_REPORT_MAX_DAYS", default=3660)
TRIAGE_REPORT_FIRST_YEAR = env.int("TRIAGE_REPORT_FIRST_YEAR", default=2000)
# CSV exports start with a UTF-8 byte order mark, so Excel on Windows reads them as UTF-8 (without it
# it guesses the ANSI code page and garbles accents); off for tools that want bare UTF-8.
TRIAGE_CSV_BOM = env.bool("TRIAGE_CSV_BOM", default=True)
