"""The rollups give the dashboard the raw rows give, after every kind of change a ticket goes
through (the triggers log the day; the refresh rebuilds it)."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from tests.factories import UserFactory, triaged_ticket
from tests.report_fixture import RANGE, at, build_week
from triage.models import ReportDirtyDay, ReportTicketDay, Ticket
from triage.selectors.reports import ReportFilters, report_dashboard_get
from triage.selectors.rollups import report_dashboard_from_rollups
from triage.services import report_rollups
from triage.services.review import review_record, ticket_assign

pytestmark = pytest.mark.django_db

FILTERS = [
    ReportFilters(),
    RANGE,
    ReportFilters(channel="EMAIL"),
    ReportFilters(category="bug"),
    ReportFilters(queue="billing_team", date_from=RANGE.date_from),
]


def _same(filters: ReportFilters) -> None:
    report_rollups.report_rollups_refresh()
    raw = asdict(report_dashboard_get(filters=filters))
    rolled = asdict(report_dashboard_from_rollups(filters=filters))
    raw_durations, rolled_durations = raw.pop("durations"), rolled.pop("durations")
    raw_cost, rolled_cost = raw.pop("cost_total"), rolled.pop("cost_total")
    raw_days, rolled_days = raw.pop("cost_by_day"), rolled.pop("cost_by_day")
    assert rolled == raw, filters
    assert rolled_cost == pytest.approx(raw_cost)
    assert rolled_days.keys() == raw_days.keys()
    for day, figures in raw_days.items():
        assert rolled_days[day] == pytest.approx(figures), day
    for kind, stats in raw_durations.items():
        assert rolled_durations[kind]["n"] == stats["n"], kind
        for q in ("median", "p90"):
            if stats[q] is None:
                assert rolled_durations[kind][q] is None, (kind, q)
            else:
                assert rolled_durations[kind][q] == pytest.approx(stats[q], rel=0.01), (kind, q)


@pytest.fixture
def week():
    return build_week()


@pytest.mark.parametrize("filters", FILTERS, ids=str)
def test_rollups_equal_the_raw_figures_after_creates_triage_and_review(week, filters):
    assert ReportDirtyDay.objects.exists()  # the writes were logged by the triggers
    _same(filters)
    assert not ReportDirtyDay.objects.exists()  # and the refresh consumed the log


def test_rollups_follow_a_reassignment_a_review_and_a_delete(week):
    manager = UserFactory(username="mia")
    _same(ReportFilters())
    ticket_assign(ticket_id=week.t3.id, user=manager, assignee=None, queue="billing_team")
    _same(ReportFilters(queue="billing_team"))
    review_record(ticket_id=week.t3.id, user=manager, values={"category": "billing"})
    _same(ReportFilters())
    _same(ReportFilters(category="billing"))
    Ticket.objects.filter(id=week.t2.id).delete()
    _same(ReportFilters())
    _same(RANGE)
    Ticket.objects.filter(id=week.t5.id).update(category="account_access")  # a bulk update too
    _same(ReportFilters(category="account_access"))


def test_a_new_ticket_on_a_new_day_appears_after_the_refresh(week):
    _same(ReportFilters())
    ticket = triaged_ticket(subject="Brand new", channel=Ticket.Channel.WEB)
    Ticket.objects.filter(id=ticket.id).update(created_at=at(9, 10))
    _same(ReportFilters())
    assert ReportTicketDay.objects.filter(day=at(9, 10).date()).exists()


def test_rebuilding_twice_gives_the_same_rows(week):
    report_rollups.report_rollups_refresh()
    first = sorted(ReportTicketDay.objects.values_list("day", "queue", "category", "status", "tickets"))
    report_rollups.report_rollups_rebuild()
    report_rollups.report_rollups_rebuild()
    assert (
        sorted(ReportTicketDay.objects.values_list("day", "queue", "category", "status", "tickets")) == first
    )


def test_duration_buckets_keep_seconds_exact_below_10000_and_1_percent_above():
    assert report_rollups.duration_bucket(59.6) == 60
    assert report_rollups.duration_bucket(12_345.0) == 12_300
    assert abs(report_rollups.duration_bucket(987_654.0) - 987_654) / 987_654 < 0.01


def test_the_rebuild_command_builds_every_day_from_nothing(week):
    from django.core.management import call_command

    from triage.models import ReportDirtyDay

    ReportDirtyDay.objects.all().delete()  # as after an upgrade, before any refresh
    assert not ReportTicketDay.objects.exists()
    call_command("report_rollups_rebuild")
    raw = report_dashboard_get(filters=ReportFilters())
    rolled = report_dashboard_from_rollups(filters=ReportFilters())
    assert (rolled.tickets, rolled.volume_by_category) == (raw.tickets, raw.volume_by_category)


def test_the_dashboard_page_reads_current_rollups(week, client):
    from tests.report_fixture import manager_user

    client.force_login(manager_user())
    html = client.get("/reports/", {"date_from": "2026-03-02", "date_to": "2026-03-04"}).content.decode()
    assert "<b>4</b><span>tickets</span>" in html
    Ticket.objects.filter(id=week.t4.id).delete()
    html = client.get("/reports/", {"date_from": "2026-03-02", "date_to": "2026-03-04"}).content.decode()
    assert "<b>3</b><span>tickets</span>" in html
