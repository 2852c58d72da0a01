from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.factories import (
    AttachmentFactory,
    TicketFactory,
    UserFactory,
    failed_ticket,
    triaged_ticket,
)
from triage.models import Attachment, Ticket

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("view_taxonomy")]
QUEUE = reverse("triage:review-queue")


def references(html: str) -> list[str]:
    return re.findall(r'<span class="ref">(TRI-\d+)</span>', html)


def row_html(html: str, ticket: Ticket) -> str:
    match = re.search(rf'<tr id="ticket-row-{ticket.id}".*?</tr>', html, re.S)
    assert match, f"no row for {ticket.reference}"
    return match.group(0)


def test_the_queue_can_list_tickets_newest_first(agent):
    tickets = [TicketFactory() for _ in range(3)]
    html = agent.get(QUEUE, {"sort": "newest"}).content.decode()
    assert references(html) == [t.reference for t in reversed(tickets)]


def test_by_default_what_needs_a_person_comes_first_oldest_first_within_a_band(agent):
    from tests.factories import PROPOSAL

    def proposal(priority: str, confidence: float) -> dict:
        sure = {
            name: {**PROPOSAL[name], "confidence": 0.95}
            for name in ("category", "queue", "sentiment", "language")
        }
        return {**PROPOSAL, **sure, "priority": {"value": priority, "confidence": confidence}}

    calm_old = triaged_ticket(result=proposal("low", 0.9))
    unsure = triaged_ticket(result=proposal("normal", 0.4))
    urgent = triaged_ticket(result=proposal("urgent", 0.95))
    manual = failed_ticket()
    reviewed = TicketFactory(status=Ticket.Status.REVIEWED)
    calm_new = triaged_ticket(result=proposal("low", 0.9))
    html = agent.get(QUEUE).content.decode()
    assert references(html) == [t.reference for t in (urgent, manual, unsure, calm_old, calm_new, reviewed)]


def test_a_row_shows_labels_the_lowest_confidence_flagged_and_attachment_counts(agent):
    ticket = triaged_ticket(subject="Card payments fail")  # lowest confidence 0.55 (sentiment)
    AttachmentFactory(ticket=ticket)
    AttachmentFactory(ticket=ticket, status=Attachment.Status.REJECTED, reject_reason="not an image")
    row = row_html(agent.get(QUEUE).content.decode(), ticket)
    assert f'href="{reverse("triage:ticket-detail", args=[ticket.id])}"' in row
    assert "Card payments fail" in row and ticket.reference in row
    assert "Needs review" in row and "badge-needs_review" in row
    assert "Bug / error" in row and "High" in row and "Engineering" in row
    assert "55%" in row and "conf-low" in row
    assert "2 <span" in row and "(1 rejected)" in row
    assert "Web form" in row
    assert re.search(
        r'<time datetime="[^"]+" title="\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [^"]+">just now</time>', row
    )


def test_a_confident_proposal_is_not_flagged(agent):
    result = {
        "summary": "s",
        **{f: {"value": v, "confidence": 0.9} for f, v in [("category", "bug"), ("priority", "low")]},
        **{f: {"value": v, "confidence": 0.8} for f, v in [("queue", "tier1"), ("sentiment", "neutral")]},
        "language": {"value": "en", "confidence": 0.95},
    }
    ticket = triaged_ticket(result=result)
    row = row_html(agent.get(QUEUE).content.decode(), ticket)
    assert "80%" in row and "conf-low" not in row


@pytest.mark.parametrize(
    ("status_filter", "expected"),
    [
        ("processing", {"processing", "triaging"}),
        ("needs_review", {"review"}),
        ("manual_triage", {"manual"}),
        ("reviewed", {"reviewed"}),
        ("", {"processing", "triaging", "review", "manual", "reviewed"}),
        ("bogus", {"processing", "triaging", "review", "manual", "reviewed"}),
    ],
)
def test_the_status_filter_is_kept_in_the_url(agent, status_filter, expected):
    tickets = {
        "processing": TicketFactory(status=Ticket.Status.PROCESSING),
        "triaging": TicketFactory(status=Ticket.Status.TRIAGING),
        "review": triaged_ticket(),
        "manual": failed_ticket(),
        "reviewed": TicketFactory(status=Ticket.Status.REVIEWED),
    }
    html = agent.get(QUEUE, {"status": status_filter}).content.decode()
    assert set(references(html)) == {tickets[k].reference for k in expected}
    if status_filter in ("processing", "needs_review", "manual_triage", "reviewed"):
        assert f'href="?status={status_filter}" aria-current="page"' in html


def test_the_filter_tabs_show_counts(agent):
    TicketFactory(status=Ticket.Status.PROCESSING)
    TicketFactory(status=Ticket.Status.TRIAGING)
    triaged_ticket()
    html = agent.get(QUEUE).content.decode()
    assert re.search(r'status=processing"\s*>Processing <span class="count">2</span>', html)
    assert re.search(r'status=needs_review"\s*>Needs review <span class="count">1</span>', html)
    assert re.search(r'aria-current="page">All <span class="count">3</span>', html)


def test_the_tabs_follow_bulk_actions_and_deletes_without_counting_the_tickets(agent):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def tab(html: str, key: str, title: str) -> int:
        found = re.search(rf'status={key}"[^>]*>{title} <span class="count">(\d+)</span>', html)
        assert found, f"no {title} tab"
        return int(found.group(1))

    waiting = [triaged_ticket() for _ in range(3)]
    TicketFactory(status=Ticket.Status.PROCESSING)
    html = agent.get(QUEUE).content.decode()
    assert (tab(html, "needs_review", "Needs review"), tab(html, "reviewed", "Open")) == (3, 0)
    agent.post(
        reverse("triage:review-queue-bulk"), {"action": "accept", "ticket": [waiting[0].id, waiting[1].id]}
    )
    Ticket.objects.filter(id=waiting[2].id).delete()
    with CaptureQueriesContext(connection) as queries:
        html = agent.get(QUEUE, {"status": "reviewed"}).content.decode()
    assert (tab(html, "needs_review", "Needs review"), tab(html, "reviewed", "Open")) == (0, 2)
    assert re.search(r'>All <span class="count">3</span>', html)
    # the tab's count is also the page's
    assert set(references(html)) == {waiting[0].reference, waiting[1].reference}
    # the tabs read the kept counts (selectors.ticket_status_counts), not every ticket's status
    assert any('FROM "triage_ticketstatuscount"' in q["sql"] for q in queries)
    assert not [q["sql"] for q in queries if 'FROM "triage_ticket" GROUP BY' in q["sql"]]


def test_the_queue_is_paginated_and_pages_keep_the_filter(agent, settings):
    settings.TRIAGE_QUEUE_PAGE_SIZE = 2
    tickets = [TicketFactory(status=Ticket.Status.PROCESSING) for _ in range(5)]
    TicketFactory(status=Ticket.Status.REVIEWED)  # filtered out

    first = agent.get(QUEUE, {"status": "processing", "sort": "newest"}).content.decode()
    assert references(first) == [tickets[4].reference, tickets[3].reference]
    assert "Page 1 of 3" in first
    assert 'href="?status=processing&amp;sort=newest&amp;page=2" rel="next"' in first

    last = agent.get(QUEUE, {"status": "processing", "sort": "newest", "page": 3}).content.decode()
    assert references(last) == [tickets[0].reference]
    assert 'href="?status=processing&amp;sort=newest&amp;page=2" rel="prev"' in last

    past_the_end = agent.get(QUEUE, {"status": "processing", "sort": "newest", "page": 99}).content.decode()
    assert references(past_the_end) == [tickets[0].reference]


def test_an_empty_queue_says_so(agent):
    html = agent.get(QUEUE, {"status": "reviewed"}).content.decode()
    assert "No tickets with this status" in html


def test_rows_still_processing_poll_and_finished_rows_do_not(agent, settings):
    settings.TRIAGE_POLL_INTERVAL_S = 3
    processing = TicketFactory(status=Ticket.Status.PROCESSING)
    triaging = TicketFactory(status=Ticket.Status.TRIAGING)
    done = triaged_ticket()
    html = agent.get(QUEUE).content.decode()
    for ticket in (processing, triaging):
        row = row_html(html, ticket)
        assert f'hx-get="{QUEUE}?row={ticket.id}"' in row
        assert 'hx-trigger="every 3s"' in row and 'hx-swap="outerHTML"' in row
    assert "hx-trigger" not in row_html(html, done)


def test_the_row_fragment_returns_only_the_row_and_stops_polling_once_triaged(agent):
    ticket = TicketFactory(status=Ticket.Status.PROCESSING)

    polling = agent.get(QUEUE, {"row": ticket.id}, HTTP_HX_REQUEST="true")
    body = polling.content.decode().strip()
    assert polling.status_code == 200
    assert body.startswith(f'<tr id="ticket-row-{ticket.id}"') and body.endswith("</tr>")
    assert "<table" not in body and "<html" not in body
    assert 'hx-trigger="every 2s"' in body
    assert "HX-Request" in polling["Vary"]

    Ticket.objects.filter(id=ticket.id).update(status=Ticket.Status.NEEDS_REVIEW, confidence=0.8)
    done = agent.get(QUEUE, {"row": ticket.id}, HTTP_HX_REQUEST="true").content.decode()
    assert done.strip().startswith(f'<tr id="ticket-row-{ticket.id}"')
    assert "hx-trigger" not in done and "hx-get" not in done
    assert "Needs review" in done and "80%" in done


def test_a_polled_row_is_the_row_the_page_drew(agent):
    """The page's rows are drawn in one call (queue_rows), the row a ticket polls for alone
    (queue_row): the same HTML, in every state a row draws differently."""
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    person = UserFactory(first_name="Ana")
    processing = TicketFactory(status=Ticket.Status.PROCESSING, subject="x" * 120, assignee=person)
    due = triaged_ticket(subject="due <soon>")
    old = triaged_ticket(subject="old")
    paused = triaged_ticket(subject="paused")
    AttachmentFactory(ticket=due, status=Attachment.Status.REJECTED, reject_reason="not an image")
    Ticket.objects.filter(id=due.id).update(sla_due_at=now + timedelta(hours=2, seconds=30))
    Ticket.objects.filter(id=old.id).update(created_at=now - timedelta(days=40))  # shown as a date
    Ticket.objects.filter(id=paused.id).update(sla_paused_at=now)
    html = agent.get(QUEUE).content.decode()
    assert "2h left" in html and "Paused" in html and "(1 rejected)" in html and "Ana" in html
    for ticket in (processing, due, old, paused):
        fragment = agent.get(QUEUE, {"row": ticket.id}, HTTP_HX_REQUEST="true").content.decode()
        assert fragment.strip() == row_html(html, ticket)


def test_the_row_of_a_deleted_ticket_is_removed(agent):
    response = agent.get(QUEUE, {"row": 9999}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response.content == b""


def test_without_htmx_the_row_parameter_gives_the_whole_page(agent):
    ticket = TicketFactory()
    html = agent.get(QUEUE, {"row": ticket.id}).content.decode()
    assert "<html" in html and "Review queue" in html


def test_html_in_a_subject_is_escaped(agent):
    TicketFactory(subject='<script>alert("x")</script>', requester_email="a@example.com")
    html = agent.get(QUEUE).content.decode()
    assert '<script>alert("x")</script>' not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def test_the_queue_runs_a_fixed_number_of_queries(agent, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert agent.get(QUEUE, {"q": "checkout", "category": "bug"}).status_code == 200
        return len(queries)

    for _ in range(3):
        AttachmentFactory(ticket=triaged_ticket(subject="checkout fails"))
    few = count()
    for _ in range(9):
        AttachmentFactory(ticket=triaged_ticket(subject="checkout fails"))
    # session, user, taxonomy, tab counts, filtered count, page ids, rows, their files, labels,
    # newest id (the live poll's marker), 2 manager checks, the people (Assignee column, bulk assign)
    assert count() == few <= 13


def test_a_row_shows_thumbnails_of_its_processed_attachments_in_few_queries(
    agent, django_assert_max_num_queries
):
    from tests.factories import RenditionFactory
    from triage.models import Rendition

    ticket = triaged_ticket()
    thumbs = []
    for _ in range(4):
        attachment = AttachmentFactory(ticket=ticket)
        thumbs.append(RenditionFactory(attachment=attachment, kind=Rendition.Kind.THUMB, mime="image/jpeg"))
    AttachmentFactory(ticket=ticket, status=Attachment.Status.REJECTED, reject_reason="not an image")
    for _ in range(5):
        other = triaged_ticket()
        RenditionFactory(attachment=AttachmentFactory(ticket=other), kind=Rendition.Kind.THUMB)
    with django_assert_max_num_queries(13):  # +1: the people for the Assignee column
        html = agent.get(QUEUE).content.decode()
    row = row_html(html, ticket)
    shown = re.findall(r'<img class="thumb" src="([^"]+)"', row)
    assert shown == [reverse("triage:rendition-file", args=[t.id]) for t in thumbs[:3]]  # the first three


def test_rows_in_every_state_read_nothing_of_their_own(agent):
    """A page reads only the columns a row shows (selectors.queue._ROW_FIELDS): a row that read
    another one would cost a query per row. Rows in every state the row draws differently cost
    the queries of one plain row."""
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from tests.factories import RenditionFactory
    from triage.models import Rendition, RenditionText

    def queries(params: dict) -> tuple[int, str]:
        with CaptureQueriesContext(connection) as captured:
            html = agent.get(QUEUE, params).content.decode()
        return len(captured), html

    triaged_ticket(subject="plain")
    one, _ = queries({})
    one_search, _ = queries({"q": "plain"})
    now = timezone.now()
    person = UserFactory(first_name="Ana")
    for status in Ticket.Status.values:
        TicketFactory(
            status=status, subject=f"plain {status}", assignee=person, sla_due_at=now + timedelta(hours=2)
        )
    overdue, paused = triaged_ticket(subject="plain overdue"), triaged_ticket(subject="plain paused")
    Ticket.objects.filter(id=overdue.id).update(sla_due_at=now - timedelta(hours=2), sla_first_due_at=now)
    Ticket.objects.filter(id=paused.id).update(sla_due_at=None, sla_paused_at=now)
    low = triaged_ticket(subject="plain unsure", result=None)
    Ticket.objects.filter(id=low.id).update(confidence=0.2)
    failed_ticket(subject="plain failed")
    with_files = triaged_ticket(subject="files", description="the plain text of the body")
    for _ in range(4):
        RenditionFactory(attachment=AttachmentFactory(ticket=with_files), kind=Rendition.Kind.THUMB)
    AttachmentFactory(ticket=with_files, status=Attachment.Status.REJECTED, reject_reason="not an image")
    read = triaged_ticket(subject="read")
    image = RenditionFactory(attachment=AttachmentFactory(ticket=read), kind=Rendition.Kind.IMAGE)
    RenditionText.objects.create(rendition=image, text="a plain word in a screenshot", engine="test")
    many, html = queries({})
    assert len(references(html)) == Ticket.objects.count() and "Overdue" in html and "Paused" in html
    assert "Ana" in html and "(1 rejected)" in html and html.count('<img class="thumb"') == 3
    assert many == one
    many_search, html = queries({"q": "plain"})
    assert "in screenshot" in html and "<mark>plain</mark> text" in html
    assert many_search == one_search


def test_filters_combine_and_live_in_the_url(agent):
    from tests.factories import PROPOSAL

    wanted = triaged_ticket(
        subject="Zanzibar fails with ERR_PAYMENT",
        result={**PROPOSAL, "category": {"value": "bug", "confidence": 0.55}},
    )
    triaged_ticket(
        subject="Checkout fails too", result={**PROPOSAL, "category": {"value": "billing", "confidence": 0.5}}
    )
    triaged_ticket(
        subject="Password reset", result={**PROPOSAL, "category": {"value": "bug", "confidence": 0.5}}
    )
    triaged_ticket(
        subject="Checkout slow", result={**PROPOSAL, "category": {"value": "bug", "confidence": 0.99}}
    )
    params = {"q": "zanzibar", "category": "bug", "confidence_below": "0.6"}
    html = agent.get(QUEUE, params).content.decode()
    assert references(html) == [wanted.reference]
    # the form shows what is applied, so the URL can be shared and the view rebuilt from it
    assert 'value="zanzibar"' in html and '<option value="bug" selected>' in html
    assert 'href="?q=zanzibar&amp;category=bug&amp;confidence_below=0.6&amp;status=needs_review"' in html


def test_a_date_range_and_channel_filter(agent):
    from datetime import timedelta

    from django.utils import timezone

    old = TicketFactory(channel=Ticket.Channel.EMAIL)
    Ticket.objects.filter(id=old.id).update(created_at=timezone.now() - timedelta(days=10))
    email_now = TicketFactory(channel=Ticket.Channel.EMAIL)
    TicketFactory(channel=Ticket.Channel.WEB)
    since = (timezone.now() - timedelta(days=2)).date().isoformat()
    html = agent.get(QUEUE, {"channel": "EMAIL", "created_from": since}).content.decode()
    assert references(html) == [email_now.reference]


def test_a_stale_or_invalid_filter_is_ignored_not_an_error(agent):
    ticket = TicketFactory()
    html = agent.get(
        QUEUE, {"category": "retired-value", "created_from": "yesterday", "sort": "?"}
    ).content.decode()
    assert references(html) == [ticket.reference]


def test_search_finds_words_in_the_summary_too(agent):
    from tests.factories import PROPOSAL

    hit = triaged_ticket(
        subject="Help", result={**PROPOSAL, "summary": "The invoice PDF shows the wrong VAT rate."}
    )
    triaged_ticket(subject="Other")
    assert references(agent.get(QUEUE, {"q": "VAT"}).content.decode()) == [hit.reference]


def test_bulk_accept_accepts_only_tickets_waiting_with_a_proposal_and_says_which_were_skipped(agent):
    from triage.models import ReviewDecision

    waiting = [triaged_ticket() for _ in range(2)]
    manual = failed_ticket()
    done = TicketFactory(status=Ticket.Status.REVIEWED)
    response = agent.post(
        reverse("triage:review-queue-bulk"),
        {
            "action": "accept",
            "ticket": [str(t.id) for t in (*waiting, manual, done)],
            "next": "/?status=needs_review",
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/?status=needs_review"
    html = response.content.decode()
    assert "Accepted 2 tickets as proposed." in html
    assert f"{manual.reference}: needs manual triage, not waiting for review" in html
    for ticket in waiting:
        ticket.refresh_from_db()
        assert ticket.status == Ticket.Status.REVIEWED
        assert ReviewDecision.objects.get(ticket=ticket).action == ReviewDecision.Action.ACCEPT
    manual.refresh_from_db()
    assert manual.status == Ticket.Status.MANUAL_TRIAGE


def test_bulk_accept_never_redirects_off_site(agent):
    ticket = triaged_ticket()
    response = agent.post(
        reverse("triage:review-queue-bulk"),
        {"action": "accept", "ticket": [ticket.id], "next": "https://evil.example/"},
    )
    assert response.status_code == 302 and response.url == QUEUE


def test_tickets_being_processed_cannot_be_ticked(agent):
    waiting = triaged_ticket()
    manual = failed_ticket()
    busy = TicketFactory(status=Ticket.Status.PROCESSING)
    html = agent.get(QUEUE).content.decode()
    assert f'value="{waiting.id}" form="bulk"' in row_html(html, waiting)
    assert f'value="{manual.id}" form="bulk"' in row_html(html, manual)  # bulk assign, set queue...
    assert 'type="checkbox"' not in row_html(html, busy)


def test_assigned_to_me(agent):
    from django.contrib.auth import get_user_model

    me = get_user_model().objects.get(id=agent.session["_auth_user_id"])
    mine = triaged_ticket(assignee=me)
    triaged_ticket(assignee=UserFactory())
    triaged_ticket()
    assert references(agent.get(QUEUE, {"mine": "on"}).content.decode()) == [mine.reference]


@pytest.mark.parametrize(
    ("params", "filters"),
    [
        ({}, {}),
        ({"status": "needs_review"}, {"statuses": (Ticket.Status.NEEDS_REVIEW,)}),
        ({"status": "manual_triage"}, {"statuses": (Ticket.Status.MANUAL_TRIAGE,)}),
        ({"confidence_below": "0.5"}, {"confidence_below": 0.5}),
        ({"low": "on"}, {"low": True}),
        # an urgent priority: the two middle bands are empty, not read
        ({"priority": "urgent"}, {"priority": "urgent"}),
        (
            {"status": "needs_review", "priority": "high"},
            {"statuses": (Ticket.Status.NEEDS_REVIEW,), "priority": "high"},
        ),
        ({"priority": "normal"}, {"priority": "normal"}),
    ],
)
def test_every_page_of_the_work_order_matches_the_full_sort(agent, settings, params, filters):
    """The page is read band by band, skipping bands the filters rule out
    (selectors.review_queue_page); walking the pages must give exactly the order of the one-query
    sort, across band boundaries and page breaks."""
    from tests.factories import PROPOSAL
    from triage import selectors

    settings.TRIAGE_QUEUE_PAGE_SIZE = 3
    for priority, confidence in [("low", 0.9), ("urgent", 0.9), ("normal", 0.4), ("high", 0.3)] * 2:
        sure = {name: {**PROPOSAL[name], "confidence": 0.95} for name in ("category", "queue", "sentiment")}
        triaged_ticket(result={**PROPOSAL, **sure, "priority": {"value": priority, "confidence": confidence}})
    failed_ticket()
    TicketFactory(status=Ticket.Status.REVIEWED)
    TicketFactory(status=Ticket.Status.PROCESSING)
    expected = [t.reference for t in selectors.review_queue_list(filters=selectors.QueueFilters(**filters))]
    walked = []
    for number in range(1, (len(expected) + 2) // 3 + 1):  # a page past the end repeats the last one
        walked += references(agent.get(QUEUE, {**params, "page": number}).content.decode())
    assert walked == expected and expected
    assert (
        len(expected)
        == len(set(expected))
        == selectors.review_queue_filtered(filters=selectors.QueueFilters(**filters)).count()
    )


def test_search_finds_text_read_from_a_screenshot(agent):
    from tests.factories import RenditionFactory
    from triage.models import RenditionText

    hit = triaged_ticket(subject="Something is wrong")
    rendition = RenditionFactory(attachment=AttachmentFactory(ticket=hit))
    RenditionText.objects.create(rendition=rendition, text="Kerberos ticket expired", engine="test")
    triaged_ticket(subject="Kerberos? no, the text is in the subject here")
    other = triaged_ticket(subject="Unrelated")
    RenditionText.objects.create(
        rendition=RenditionFactory(attachment=AttachmentFactory(ticket=other)),
        text="Payment failed",
        engine="t",
    )
    found = references(agent.get(QUEUE, {"q": "kerberos", "sort": "oldest"}).content.decode())
    assert found[0] == hit.reference and other.reference not in found and len(found) == 2


def test_the_page_carries_a_poll_for_new_tickets_with_the_newest_id_and_the_filters(agent, settings):
    settings.TRIAGE_QUEUE_LIVE_INTERVAL_S = 7
    newest = TicketFactory()
    html = agent.get(QUEUE, {"status": "needs_review", "category": "bug"}).content.decode()
    live = re.search(r'<div id="queue-live"[^>]*>', html).group(0)
    assert f"since={newest.id}" in live and "status=needs_review" in live and "category=bug" in live
    assert 'hx-trigger="every 7s"' in live


def test_the_poll_counts_only_new_tickets_that_match_the_filters(agent):
    before = triaged_ticket()
    poll = {"status": "needs_review", "since": before.id}
    quiet = agent.get(QUEUE, poll, HTTP_HX_REQUEST="true").content.decode()
    assert quiet.strip().startswith('<div id="queue-live"') and "new ticket" not in quiet

    triaged_ticket()
    triaged_ticket()
    TicketFactory(status=Ticket.Status.PROCESSING)  # new, but not waiting for review
    bar = agent.get(QUEUE, poll, HTTP_HX_REQUEST="true").content.decode()
    assert "2 new tickets" in bar and "<table" not in bar
    show = re.search(r"<button[^>]*>Show</button>", bar).group(0)
    assert 'hx-get="/?status=needs_review"' in show and 'hx-select="#queue-results"' in show
    assert f"since={before.id}" in bar  # the bar keeps polling from the same marker


def test_the_poll_with_a_bad_marker_counts_from_the_start(agent):
    TicketFactory()
    bar = agent.get(QUEUE, {"since": "x"}, HTTP_HX_REQUEST="true").content.decode()
    assert "1 new ticket " in bar


@pytest.mark.parametrize("status_filter", ["reviewed", "pending", "solved", "closed"])
def test_the_lifecycle_tabs_list_their_tickets(agent, status_filter):
    tickets = {
        "reviewed": TicketFactory(status=Ticket.Status.REVIEWED),
        "pending": TicketFactory(status=Ticket.Status.PENDING),
        "solved": TicketFactory(status=Ticket.Status.SOLVED),
        "closed": TicketFactory(status=Ticket.Status.CLOSED),
    }
    html = agent.get(QUEUE, {"status": status_filter}).content.decode()
    assert set(references(html)) == {tickets[status_filter].reference}
    assert f'href="?status={status_filter}" aria-current="page"' in html


def test_bulk_set_queue_on_all_matching_tickets_of_the_view(agent):
    wanted = [triaged_ticket(subject=f"VAT invoice {i}") for i in range(3)]
    other = triaged_ticket(subject="Password")
    response = agent.post(
        reverse("triage:review-queue-bulk"),
        {
            "action": "change",
            "change": "queue",
            "queue": "billing_team",
            "scope": "all",
            "view": "q=VAT",
            "next": "/?q=VAT",
        },
        follow=True,
    )
    html = response.content.decode()
    assert "Set queue: 3 tickets done." in html, re.findall(r"flash-\w+\">[^<]*", html)
    assert {t.queue for t in Ticket.objects.filter(id__in=[t.id for t in wanted])} == {"billing_team"}
    assert Ticket.objects.get(id=other.id).queue != "billing_team"


def test_bulk_refuses_a_value_outside_the_taxonomy(agent):
    ticket = triaged_ticket()
    response = agent.post(
        reverse("triage:review-queue-bulk"),
        {"action": "change", "change": "priority", "priority": "nonsense", "ticket": [ticket.id]},
        follow=True,
    )
    assert "Choose tickets, an action and its value." in response.content.decode()


def test_bulk_skips_a_row_whose_version_changed(agent):
    ticket = triaged_ticket()
    response = agent.post(
        reverse("triage:review-queue-bulk"),
        {
            "action": "change",
            "change": "priority",
            "priority": "low",
            "ticket": [ticket.id],
            "seen": [f"{ticket.id}:2001-01-01T00:00:00+00:00"],
        },
        follow=True,
    )
    assert (
        f"Skipped 1 ticket: {ticket.reference}: changed since you loaded the list"
        in response.content.decode()
    )
    assert Ticket.objects.get(id=ticket.id).priority == "high"


def _decided_by_trained_version(ticket: Ticket, version: str, low_below: dict[str, float]) -> None:
    from triage.models import ClassifierVersion

    ClassifierVersion.objects.create(
        version=version,
        path=f"{version}.joblib",
        data_fingerprint=version.ljust(64, "x"),
        taxonomy_key="k",
        n_reviewed=200,
        metrics={"low_below": low_below},
    )
    ticket.latest_run.model = f"local-tfidf-2+{version}"
    ticket.latest_run.save(update_fields=["model"])


def _sure_but(name: str, confidence: float) -> dict:
    from tests.factories import PROPOSAL

    sure = {
        f: {**PROPOSAL[f], "confidence": 0.95}
        for f in ("category", "priority", "queue", "sentiment", "language")
    }
    return {**PROPOSAL, **sure, name: {**PROPOSAL[name], "confidence": confidence}}


def test_the_low_badge_follows_each_rows_calibrated_level_per_field(agent, django_assert_max_num_queries):
    strict = triaged_ticket(subject="strict", result=_sure_but("queue", 0.65))
    lenient = triaged_ticket(subject="lenient", result=_sure_but("queue", 0.65))
    fixed = triaged_ticket(subject="fixed", result=_sure_but("queue", 0.65))  # a Kimi run: 60%
    _decided_by_trained_version(strict, "v-strict", {"queue": 0.7, "sentiment": 0.5})
    _decided_by_trained_version(lenient, "v-lenient", {"queue": 0.5, "sentiment": 0.5})
    with django_assert_max_num_queries(13):  # the levels of both versions in one query
        html = agent.get(QUEUE).content.decode()
    assert "65%" in row_html(html, strict) and "conf-low" in row_html(html, strict)  # 0.65 < 0.7
    assert 'title="Low confidence (queue):' in row_html(html, strict)  # the field it is about
    assert "65%" in row_html(html, lenient) and "conf-low" not in row_html(html, lenient)  # >= 0.5
    assert "conf-low" not in row_html(html, fixed)  # >= the fixed 60%
    # the polled single row agrees with the page
    assert "conf-low" in agent.get(QUEUE, {"row": strict.id}, HTTP_HX_REQUEST="true").content.decode()
    assert "conf-low" not in agent.get(QUEUE, {"row": lenient.id}, HTTP_HX_REQUEST="true").content.decode()


def test_the_calibrated_levels_are_read_once_per_page(agent):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(4):
        ticket = triaged_ticket(subject=f"calibrated {n}", result=_sure_but("queue", 0.65))
        _decided_by_trained_version(ticket, f"v-{n}", {"queue": 0.7})
    with CaptureQueriesContext(connection) as queries:
        html = agent.get(QUEUE).content.decode()
    assert html.count("conf-low") == 4
    # the badge's levels once, and the work order's LOW band once: never once per row
    assert sum("triage_classifierversion" in q["sql"] for q in queries.captured_queries) == 2


def test_a_reviewed_ticket_is_never_flagged_low(agent):
    ticket = triaged_ticket(subject="reviewed", result=_sure_but("queue", 0.3))
    _decided_by_trained_version(ticket, "v-reviewed", {"queue": 0.7})
    plain = triaged_ticket(subject="reviewed too", result=_sure_but("queue", 0.3))  # fixed level
    Ticket.objects.filter(id__in=[ticket.id, plain.id]).update(status=Ticket.Status.REVIEWED)
    html = agent.get(QUEUE).content.decode()
    assert "30%" in row_html(html, ticket) and "conf-low" not in row_html(html, ticket)
    assert "30%" in row_html(html, plain) and "conf-low" not in row_html(html, plain)


def test_the_flagged_low_filter_uses_the_same_calibrated_levels_as_the_badge(agent):
    strict = triaged_ticket(subject="strict", result=_sure_but("queue", 0.65))
    lenient = triaged_ticket(subject="lenient", result=_sure_but("queue", 0.65))
    unset = triaged_ticket(subject="unset", result=_sure_but("sentiment", 0.55))  # no level: 60%
    kimi_sure = triaged_ticket(subject="kimi sure", result=_sure_but("queue", 0.65))
    kimi_unsure = triaged_ticket(subject="kimi unsure", result=_sure_but("queue", 0.55))
    reviewed = triaged_ticket(subject="reviewed", result=_sure_but("queue", 0.3))
    _decided_by_trained_version(strict, "v-strict", {"queue": 0.7})
    _decided_by_trained_version(lenient, "v-lenient", {"queue": 0.5})
    _decided_by_trained_version(unset, "v-unset", {"queue": 0.5})
    Ticket.objects.filter(id=reviewed.id).update(status=Ticket.Status.REVIEWED)
    html = agent.get(QUEUE, {"low": "on", "sort": "oldest"}).content.decode()
    assert references(html) == [t.reference for t in (strict, unset, kimi_unsure)]
    assert html.count("conf-low") == 3  # every row the filter keeps carries the badge
    assert 'name="low"' in html and "checked" in re.search(r'<input[^>]*name="low"[^>]*>', html).group(0)
    assert set(references(agent.get(QUEUE).content.decode())) >= {lenient.reference, kimi_sure.reference}
