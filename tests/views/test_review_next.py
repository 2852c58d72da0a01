"""Next / previous in a queue view, and "Accept & next" staying in that view."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import UserFactory, triaged_ticket
from triage.models import Ticket
from triage.selectors import Neighbours, QueueFilters, review_queue_neighbours

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("view_taxonomy")]


def aged(subject: str, minutes: int, **fields) -> Ticket:
    ticket = triaged_ticket(subject=subject, **fields)
    Ticket.objects.filter(id=ticket.id).update(created_at=timezone.now() - timedelta(minutes=minutes))
    return ticket


@pytest.fixture
def three():
    return aged("a", 30), aged("b", 20), aged("c", 10)


@pytest.mark.parametrize("sort", ["oldest", "newest"])
def test_neighbours_follow_the_sort(three, sort):
    a, b, c = three if sort == "oldest" else reversed(three)
    filters = QueueFilters(sort=sort)
    assert review_queue_neighbours(filters=filters, ticket_id=b.id) == Neighbours(a.id, c.id)
    assert review_queue_neighbours(filters=filters, ticket_id=a.id).previous_id is None
    assert review_queue_neighbours(filters=filters, ticket_id=c.id).next_id is None


def test_neighbours_in_the_work_order_cross_bands():
    low = aged("unsure", 50)
    Ticket.objects.filter(id=low.id).update(confidence=0.3, priority="low")  # band 1
    sure = aged("sure", 60)
    Ticket.objects.filter(id=sure.id).update(confidence=0.95, priority="low")  # band 2
    urgent = aged("urgent", 5, priority="urgent")  # band 0
    filters = QueueFilters(urgent=("high", "urgent"))
    assert review_queue_neighbours(filters=filters, ticket_id=urgent.id).next_id == low.id
    assert review_queue_neighbours(filters=filters, ticket_id=low.id) == Neighbours(urgent.id, sure.id)


def test_neighbours_by_confidence_put_the_unscored_first(three):
    a, b, c = three
    Ticket.objects.filter(id=a.id).update(confidence=None)
    Ticket.objects.filter(id=b.id).update(confidence=0.9)
    Ticket.objects.filter(id=c.id).update(confidence=0.2)
    filters = QueueFilters(sort="confidence")
    assert review_queue_neighbours(filters=filters, ticket_id=c.id) == Neighbours(a.id, b.id)


def test_a_ticket_outside_the_view_has_the_first_ticket_as_next(three):
    a, _, _ = three
    outside = aged("other", 1, channel=Ticket.Channel.EMAIL)
    filters = QueueFilters(sort="oldest", channel=Ticket.Channel.WEB)
    assert review_queue_neighbours(filters=filters, ticket_id=outside.id) == Neighbours(None, a.id)


def test_accept_and_next_opens_the_next_ticket_of_the_same_view(client, three):
    client.force_login(UserFactory())
    a, b, c = three
    view = "status=needs_review&sort=oldest"
    url = reverse("triage:ticket-detail", args=[a.id])
    page = client.get(url, {"view": view}).content.decode()
    next_url = reverse("triage:ticket-detail", args=[b.id]) + "?" + urlencode({"view": view})
    assert f'href="{next_url.replace("&", "&amp;")}"' in page
    assert "Accept &amp; next" in page
    response = client.post(f"{url}?{urlencode({'view': view, 'then': 'next'})}", {"action": "accept"})
    assert response.status_code == 302 and response["Location"] == next_url
    assert Ticket.objects.get(id=a.id).status == Ticket.Status.REVIEWED
    # the accepted ticket left the view: from b, previous is nothing and next is c
    page = client.get(response["Location"]).content.decode()
    assert 'id="view-previous"' not in page and f"/tickets/{c.id}/?view=" in page


def test_the_last_ticket_of_a_view_goes_back_to_the_list(client, three):
    client.force_login(UserFactory())
    _, _, c = three
    view = "sort=oldest"
    url = reverse("triage:ticket-detail", args=[c.id])
    response = client.post(f"{url}?{urlencode({'view': view, 'then': 'next'})}", {"action": "accept"})
    assert response["Location"] == "/?sort=oldest"


def test_queue_rows_link_to_tickets_with_their_view(client, three):
    client.force_login(UserFactory())
    page = client.get("/", {"sort": "oldest", "page": "1"}).content.decode()
    assert f"/tickets/{three[0].id}/?view=sort%3Doldest" in page
    assert 'tabindex="-1"' in page


def test_accept_and_next_records_the_decision_without_building_the_page(client, three):
    """The decision reads the ticket, the taxonomy and the view's next ticket, nothing the page
    shows (attachments, mail, history, timeline): the next page is built once, after the redirect."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(UserFactory())
    a, b, _ = three
    view = "status=needs_review&sort=oldest"
    url = reverse("triage:ticket-detail", args=[a.id])
    with CaptureQueriesContext(connection) as queries:
        response = client.post(f"{url}?{urlencode({'view': view, 'then': 'next'})}", {"action": "accept"})
    assert response.status_code == 302
    assert response["Location"] == reverse("triage:ticket-detail", args=[b.id]) + "?" + urlencode(
        {"view": view}
    )
    read = " ".join(q["sql"] for q in queries.captured_queries)
    for table in (
        "triage_attachment",
        "triage_rendition",
        "triage_inboundemail",
        "triage_ticketnote",
        "triage_macro",
    ):
        assert f'FROM "{table}"' not in read, table
    assert read.count('FROM "triage_taxonomyvalue"') == 1
    assert Ticket.objects.get(id=a.id).status == Ticket.Status.REVIEWED


def test_the_ticket_page_reads_the_taxonomy_and_its_history_once(client, three):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(UserFactory())
    a, _, _ = three
    with CaptureQueriesContext(connection) as queries:
        page = client.get(
            reverse("triage:ticket-detail", args=[a.id]), {"view": "status=needs_review&sort=oldest"}
        )
    assert page.status_code == 200
    read = [q["sql"] for q in queries.captured_queries]
    for table in ("triage_taxonomyvalue", "triage_reviewdecision", "triage_ticketevent"):
        assert sum(f'FROM "{table}"' in sql and "JOIN" not in sql.split("FROM")[0] for sql in read) == 1, (
            table
        )
    assert len(read) <= 26
