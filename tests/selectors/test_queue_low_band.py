"""The work order's "low confidence" band holds exactly the tickets the queue flags LOW: the
calibrated per-field levels where a trained version has them, the fixed level elsewhere."""

from __future__ import annotations

import pytest

from tests.factories import PROPOSAL, taxonomy_rows, triaged_ticket
from triage.models import ClassifierVersion, Ticket
from triage.selectors import QueueFilters, review_queue_neighbours, review_queue_page
from triage.selectors.calibration import queue_mark_low

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _taxonomy():
    taxonomy_rows()


def _decided(subject: str, *, queue_confidence: float, version: str | None, level: float = 0.0) -> Ticket:
    """A ticket waiting for review, every field sure but the queue (a normal priority: not urgent)."""
    sure = {f: {**PROPOSAL[f], "confidence": 0.95} for f in ("category", "queue", "sentiment", "language")}
    result = {
        **PROPOSAL,
        **sure,
        "priority": {"value": "normal", "confidence": 0.95},
        "queue": {**PROPOSAL["queue"], "confidence": queue_confidence},
    }
    ticket = triaged_ticket(subject=subject, result=result)
    if version is not None:
        ClassifierVersion.objects.get_or_create(
            version=version,
            defaults={
                "path": f"{version}.joblib",
                "data_fingerprint": version.ljust(64, "x"),
                "taxonomy_key": "k",
                "n_reviewed": 200,
                "metrics": {"low_below": {"queue": level}},
            },
        )
        ticket.latest_run.model = f"local-tfidf-2+{version}"
        ticket.latest_run.save(update_fields=["model"])
    return Ticket.objects.select_related("latest_run").get(id=ticket.id)


def _badges(tickets: list[Ticket]) -> dict[int, bool]:
    queue_mark_low(tickets)
    return {t.id: t.low for t in tickets}


def test_the_low_band_is_the_low_badge_not_the_fixed_level():
    # oldest first: a calibrated ticket that is sure enough for its version (0.55 >= 0.5) but under
    # the fixed 60%, then a sure-looking one its strict version flags (0.65 < 0.7), then a plain one
    lenient = _decided("lenient 55%", queue_confidence=0.55, version="v-lenient", level=0.5)
    strict = _decided("strict 65%", queue_confidence=0.65, version="v-strict", level=0.7)
    plain = _decided("plain 50%", queue_confidence=0.5, version=None)
    badges = _badges([lenient, strict, plain])
    assert badges == {lenient.id: False, strict.id: True, plain.id: True}

    page = review_queue_page(filters=QueueFilters(), number=1, per_page=25)
    order = [t.id for t in page.object_list]
    # the flagged ones first (oldest first among them), then the rest
    assert order == [strict.id, plain.id, lenient.id]
    # next/previous walk the same order
    assert review_queue_neighbours(filters=QueueFilters(), ticket_id=plain.id).next_id == lenient.id
    assert review_queue_neighbours(filters=QueueFilters(), ticket_id=strict.id).previous_id is None


def test_a_confidence_filter_below_the_fixed_level_keeps_the_tickets_not_flagged():
    lenient = _decided("lenient 55%", queue_confidence=0.55, version="v-lenient", level=0.5)
    plain = _decided("plain 50%", queue_confidence=0.5, version=None)
    page = review_queue_page(filters=QueueFilters(confidence_below=0.6), number=1, per_page=25)
    assert [t.id for t in page.object_list] == [plain.id, lenient.id]


def test_the_work_order_follows_a_calibration_changed_after_its_sql_was_compiled():
    """The work order's SQL is compiled once per key (selectors.queue._work_order_sql); the calibrated
    levels are in the key, so a version's new levels move its tickets between bands at once."""
    from django.db import connection

    from triage.selectors import queue as queue_selectors

    older = _decided("older 65%", queue_confidence=0.65, version="v-new", level=0.7)
    newer = _decided("newer 50%", queue_confidence=0.5, version=None)
    ClassifierVersion.objects.filter(version="v-new").update(metrics={})  # no levels yet: the fixed 60%

    def order() -> list[int]:
        return [t.id for t in review_queue_page(filters=QueueFilters(), number=1, per_page=25).object_list]

    queue_selectors._work_order_sql.cache_clear()
    assert order() == [newer.id, older.id]  # only the 50% one is LOW
    if connection.features.supports_slicing_ordering_in_compound:  # PostgreSQL: compiled and kept
        assert queue_selectors._work_order_sql.cache_info().currsize == 1
        assert order() == [newer.id, older.id]
        assert queue_selectors._work_order_sql.cache_info()[:2] == (1, 1)  # (hits, misses): reused
    ClassifierVersion.objects.filter(version="v-new").update(metrics={"low_below": {"queue": 0.7}})
    assert order() == [older.id, newer.id]  # 65% < 70%: LOW too, and older
    ClassifierVersion.objects.filter(version="v-new").update(metrics={})
    assert order() == [newer.id, older.id]


def test_filtered_to_an_urgent_priority_the_two_middle_bands_are_not_read():
    from triage.selectors.queue import review_queue_bands

    def bands(**filters) -> list[int]:
        return [n for n, _ in review_queue_bands(QueueFilters(**filters), ("high", "urgent"))]

    assert bands() == [0, 1, 2, 3]
    assert bands(priority="urgent") == bands(priority="high") == [0, 3]
    assert bands(priority="normal") == [0, 1, 2, 3]  # manual triage of a normal ticket is still first
    assert bands(priority="urgent", statuses=(Ticket.Status.NEEDS_REVIEW,)) == [0]
