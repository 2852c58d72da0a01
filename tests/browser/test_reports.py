"""The export progress flow in a real browser: a large export is queued, a real `reports` worker
writes it while the page polls, and the download link that appears serves the file."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_review_flow import log_in, shot
from tests.report_fixture import build_week, manager_user
from triage.models import ReportExport

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_large_export_shows_progress_then_a_download_link(
    live_server, page: Page, settings, start_worker, tmp_path
):
    week = build_week()
    manager_user(username="mona")
    settings.TRIAGE_REPORT_SYNC_MAX_ROWS = 2  # the week's four tickets count as a large export
    settings.TRIAGE_POLL_INTERVAL_S = 1
    start_worker(queues="reports")

    log_in(page, live_server.url, "mona")
    page.get_by_role("link", name="Reports").click()
    page.goto(f"{live_server.url}/reports/?date_from=2026-03-02&date_to=2026-03-04")
    expect(page.locator("#headline")).to_contain_text("4tickets")
    shot(page, "reports-dashboard")

    page.get_by_role("button", name="Download CSV").click()
    row = page.locator("#export-list li").first
    expect(row).to_contain_text("4 rows")
    export = ReportExport.objects.get()
    expect(row).to_have_attribute("id", f"export-{export.id}")
    link = row.get_by_role("link", name="Download")
    expect(link).to_be_visible(timeout=60_000)  # the worker finished and the poll swapped the row
    expect(row).to_contain_text("ready, expires")
    assert row.get_attribute("hx-trigger") is None  # polling stopped
    shot(page, "reports-export-ready")

    with page.expect_download() as info:
        link.click()
    path = Path(info.value.path())
    assert info.value.suggested_filename == "triage-tickets-2026-03-02-to-2026-03-04.csv"
    rows = list(csv.reader(path.open(encoding="utf-8")))
    assert [r[0] for r in rows[1:]] == [str(t.id) for t in (week.t1, week.t2, week.t3, week.t4)]
    export.refresh_from_db()
    assert export.status == ReportExport.Status.DONE and export.done_rows == 4
