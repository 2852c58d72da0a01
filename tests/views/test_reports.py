"""The reports pages: who may see them, the numbers in their tables, exports and their downloads."""

from __future__ import annotations

import csv
import io
import re

import openpyxl
import pytest
from django.urls import reverse

from tests.factories import TicketFactory, UserFactory
from tests.report_fixture import build_week, manager_user
from triage.models import ReportExport
from triage.services import reports

pytestmark = pytest.mark.django_db
DASHBOARD = reverse("triage:reports")
EXPORT = reverse("triage:report-export")
RANGE_QUERY = {"date_from": "2026-03-02", "date_to": "2026-03-04"}


@pytest.fixture
def manager(client):
    client.force_login(manager_user(username="mona"))
    return client


@pytest.fixture
def week():
    return build_week()


def section(html: str, section_id: str) -> str:
    match = re.search(rf'<section[^>]*id="{section_id}".*?</section>', html, re.S)
    assert match, section_id
    return match.group(0)


def cells(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", html, re.S)]


@pytest.mark.parametrize(
    "url",
    [
        DASHBOARD,
        reverse("triage:report-export-status", args=[1]),
        reverse("triage:report-export-download", args=[1]),
    ],
)
def test_agents_get_403_on_every_reports_page(client, url):
    client.force_login(UserFactory())
    assert client.get(url).status_code == 403
    assert client.post(EXPORT, {"format": "csv"}).status_code == 403


def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get(DASHBOARD)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_superusers_are_managers(client):
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    assert client.get(DASHBOARD).status_code == 200


def test_the_reports_link_shows_for_managers_only(client, manager):
    assert f'href="{DASHBOARD}"' in manager.get(reverse("triage:review-queue")).content.decode()
    client.force_login(UserFactory())
    assert f'href="{DASHBOARD}"' not in client.get(reverse("triage:review-queue")).content.decode()


def test_an_interval_with_nothing_measured_has_no_bar(manager, week):
    """A range whose tickets were never reviewed: no 'Triaged → reviewed' bar (a 0 would read as
    instant), a dash in the table."""
    html = manager.get(DASHBOARD, {**RANGE_QUERY, "channel": "WEB", "category": "how_to"}).content.decode()
    timing = section(html, "chart-timing")
    wide = timing.split('class="chart chart-h chart-wide"', 1)[1].split("</svg>", 1)[0]
    assert "Arrival → triaged, median" in wide and "Triaged → reviewed" not in wide
    assert cells(timing)[-4:] == ["Triaged → reviewed", "0", "—", "—"]


def test_dashboard_tables_show_the_fixture_numbers(manager, week):
    html = manager.get(DASHBOARD, RANGE_QUERY).content.decode()
    headline = section(html, "headline")
    assert "<b>4</b><span>tickets</span>" in headline
    assert "<b>2</b><span>reviewed</span>" in headline and "<b>1</b><span>manual triage</span>" in headline
    assert "$0.0158" in headline
    timing = cells(section(html, "chart-timing"))
    assert timing[-8:] == [
        "Arrival → triaged",
        "4",
        "2m 30s",
        "3m 42s",
        "Triaged → reviewed",
        "2",
        "15m 00s",
        "19m 00s",
    ]
    # the bars say the same durations with their unit (they said 2.5, 3.7, 15 and 19: minutes, unsaid)
    wide = section(html, "chart-timing").split('class="chart chart-h chart-wide"', 1)[1].split("</svg>", 1)[0]
    assert re.findall(r'class="tick">([^<]+)</text>', wide) == ["2m 30s", "3m 42s", "15m 00s", "19m 00s"]
    priority = section(html, "chart-priority")
    assert priority.index("High") < priority.index("Low") < priority.index("(none)")
    # coloured by rank in the taxonomy (urgent red ... low slate), not by position in the list:
    # High was blue and Low orange, the palette's first two
    wide = priority.split('class="chart chart-h chart-wide"', 1)[1].split("</svg>", 1)[0]
    assert re.findall(r'fill="(#[0-9a-f]{6})"><title>([^<:]+):', wide) == [
        ("#ea580c", "High"),
        ("#64748b", "Low"),
        ("#cbd5e1", "(none)"),
    ]
    category = cells(section(html, "chart-volume-category"))
    assert category[:5] == ["Day", "(none)", "Billing &amp; payments", "Bug / error", "How-to question"]
    assert category[5:] == [
        "2026-03-02",
        "0",
        "1",
        "1",
        "0",
        "2026-03-03",
        "1",
        "0",
        "0",
        "1",
        "2026-03-04",
        "0",
        "0",
        "0",
        "0",
    ]
    review = cells(section(html, "chart-review"))
    assert review[3:6] == ["category", "1", "1"] and review[6:9] == ["priority", "2", "0"]
    matrix = cells(section(html, "chart-matrix"))
    assert matrix == [
        "Proposed ↓ / final →",
        "Billing &amp; payments",
        "Bug / error",
        "Bug / error",
        "1",
        "1",
    ]
    cost = cells(section(html, "chart-cost"))
    assert cost[7:14] == ["2026-03-02", "2", "11200", "2000", "1,000", "1180", "$0.011920"]
    # Kimi's prompt cache: hits in the range, and per run (4 runs: T1..T4)
    hits = re.search(r'<p[^>]*id="cache-hits">(.*?)</p>', html, re.S).group(1)
    assert "2000 of 14400 prompt tokens" in hits and "500 cached tokens per run" in hits, hits
    problems = cells(section(html, "chart-problems"))
    assert problems[2:4] == ["timeout", "1"]
    assert "<svg" in section(html, "chart-volume-category") and "<rect" in section(
        html, "chart-volume-category"
    )


def test_filters_live_in_the_url(manager, week):
    html = manager.get(DASHBOARD, {**RANGE_QUERY, "channel": "EMAIL"}).content.decode()
    assert "<b>2</b><span>tickets</span>" in section(html, "headline")
    assert '<option value="EMAIL" selected>' in html
    assert '<input type="hidden" name="channel" value="EMAIL">' in html


def test_an_invalid_range_is_reported(manager, week):
    html = manager.get(DASHBOARD, {"date_from": "2026-03-05", "date_to": "2026-03-01"}).content.decode()
    assert "must not be after" in html


@pytest.mark.parametrize(
    ("date_from", "date_to", "message"),
    [
        ("2026-03-01", "9999-12-31", "Enter a date between"),
        ("0001-01-01", "2026-03-01", "Enter a date between"),
        ("1926-03-01", "2026-03-01", "Enter a date between"),  # the 100-year range
        ("2001-01-01", "2026-03-01", "at most 3,660 are shown at once"),
    ],
)
def test_ranges_past_the_limits_are_refused_with_a_message_not_computed(
    manager, week, date_from, date_to, message
):
    response = manager.get(DASHBOARD, {"date_from": date_from, "date_to": date_to})
    assert response.status_code == 200
    assert message in response.content.decode()
    export = manager.post(EXPORT, {"date_from": date_from, "date_to": date_to, "format": "csv"})
    assert export.status_code == 400


def test_an_invalid_range_shows_the_default_weeks_not_all_time(manager, week):
    from triage.selectors.reports import ReportFilters

    response = manager.get(DASHBOARD, {"date_from": "2026-03-01", "date_to": "9999-12-31"})
    filters = response.context["filters"]
    assert isinstance(filters, ReportFilters)
    assert filters.date_from is not None and filters.date_to is not None
    assert (filters.date_to - filters.date_from).days == 27


def test_small_csv_export_streams_at_once_with_the_filters(manager, week):
    response = manager.post(EXPORT, {**RANGE_QUERY, "channel": "EMAIL", "format": "csv"})
    assert response.status_code == 200 and response.streaming
    assert (
        response["Content-Disposition"]
        == 'attachment; filename="triage-tickets-2026-03-02-to-2026-03-04.csv"'
    )
    body = b"".join(response.streaming_content)
    assert body.startswith("\ufeff".encode())  # Excel on Windows reads it as UTF-8
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert [int(r["Ticket id"]) for r in rows] == [week.t2.id, week.t4.id]
    assert rows[0]["Subject"].startswith("'=")
    assert not ReportExport.objects.exists()


def test_small_xlsx_export_downloads_at_once(manager, week):
    response = manager.post(EXPORT, {**RANGE_QUERY, "format": "xlsx"})
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert book["Tickets"].max_row == 5 and "Summary" in book.sheetnames


def test_large_export_becomes_a_job_with_progress_and_a_download(
    manager, week, settings, django_capture_on_commit_callbacks
):
    settings.TRIAGE_REPORT_SYNC_MAX_ROWS = 3
    with django_capture_on_commit_callbacks() as callbacks:
        response = manager.post(EXPORT, {**RANGE_QUERY, "format": "csv"})
    assert len(callbacks) == 1
    export = ReportExport.objects.get()
    assert response.status_code == 302
    html = manager.get(response["Location"]).content.decode()
    row = re.search(rf'<li id="export-{export.id}".*?</li>', html, re.S).group(0)
    assert 'hx-trigger="every' in row and "Queued 0%" in row and "4 rows" in row
    status_url = reverse("triage:report-export-status", args=[export.id])
    download_url = reverse("triage:report-export-download", args=[export.id])
    assert manager.get(download_url).status_code == 404  # not ready yet
    reports.report_export_run(export_id=export.id)
    html = manager.get(status_url).content.decode()
    assert download_url in html and "hx-trigger" not in html
    download = manager.get(download_url)
    assert download.status_code == 200
    assert len(list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode())))) == 5
    # another manager cannot reach someone else's export
    manager.force_login(manager_user(username="other"))
    assert manager.get(download_url).status_code == 404


def test_large_xlsx_export_redirects_back_to_the_filtered_page(manager, week, settings):
    settings.TRIAGE_REPORT_SYNC_MAX_ROWS = 0
    response = manager.post(EXPORT, {**RANGE_QUERY, "format": "xlsx"})
    assert response.status_code == 302
    assert response["Location"] == f"{DASHBOARD}?date_from=2026-03-02&date_to=2026-03-04"
    assert ReportExport.objects.get().format == "xlsx"


def test_bad_format_is_refused(manager):
    assert manager.post(EXPORT, {"format": "pdf"}).status_code == 400


def test_an_unknown_filter_value_is_reported(manager):
    html = manager.get(DASHBOARD, {"queue": "nope"}).content.decode()
    assert "Select a valid choice" in html


def test_the_dashboard_counts_the_lifecycle_statuses_as_reviewed(client):
    client.force_login(manager_user())
    for status in ("REVIEWED", "PENDING", "PENDING", "SOLVED", "CLOSED", "NEEDS_REVIEW"):
        TicketFactory(status=status)
    html = client.get("/reports/").content.decode()
    assert "<b>1 / 2 / 1 / 1</b><span>open / pending / solved / closed</span>" in html
    assert '<div class="stat"><b>5</b><span>reviewed</span></div>' in html


def test_no_template_comment_shows_raw_beside_the_export_buttons(manager, week):
    html = manager.get(DASHBOARD, RANGE_QUERY).content.decode()
    assert "{#" not in html and "#}" not in html and "a plain POST" not in html


def test_the_dashboard_reads_the_priority_order_once(manager, week):
    """The mix's order and its colours both follow the priority ranks: one query, not one each."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        html = manager.get(DASHBOARD, RANGE_QUERY).content.decode()
    assert "Priority mix" in html
    ranks = [q["sql"] for q in queries if "taxonomyvalue" in q["sql"] and "'priority'" in q["sql"]]
    assert len(ranks) == 1, ranks


def test_charts_with_nothing_to_draw_say_so_instead_of_empty_axes(manager):
    """The demo's first hour: tickets triaged by the offline model (no tokens), none reviewed, none
    failed. Three cards said it with empty axes from 0 to 1; each now says what the empty means."""
    from tests.factories import triaged_ticket

    for _ in range(2):
        ticket = triaged_ticket()
        ticket.latest_run.prompt_tokens = ticket.latest_run.completion_tokens = 0
        ticket.latest_run.save()
    html = manager.get(DASHBOARD).content.decode()
    review, cost, problems = (section(html, f"chart-{c}") for c in ("review", "cost", "problems"))
    assert "No reviews in this range" in review and "<svg" not in review
    assert "triaged by the offline model, which costs nothing" in cost and "<svg" not in cost
    assert "every model run succeeded" in problems and "<svg" not in problems
    assert "<svg" in section(html, "chart-priority")  # charts with something to draw are drawn
