"""The stage of each attachment on the ticket page (selectors.attachment_stage), live by htmx."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import AttachmentFactory, RenditionFactory, TicketFactory, UserFactory
from triage import selectors
from triage.models import Attachment, Rendition, RenditionText, Ticket

pytestmark = pytest.mark.django_db


def stage_of(attachment: Attachment, *, ocr: bool = True) -> dict:
    ticket = selectors.ticket_get_for_review(ticket_id=attachment.ticket_id)
    return selectors.attachment_stages(ticket=ticket, ocr_enabled=ocr)[attachment.id]


def states(stage: dict) -> list[tuple[str, str]]:
    return [(step["key"], step["state"]) for step in stage["steps"]]


def test_an_uploaded_screenshot_waits_for_normalizing():
    attachment = AttachmentFactory(status=Attachment.Status.QUEUED)
    stage = stage_of(attachment)
    assert (stage["key"], stage["label"], stage["terminal"]) == ("uploaded", "Uploaded", False)
    assert states(stage) == [
        ("uploaded", "current"),
        ("normalizing", "todo"),
        ("reading", "todo"),
        ("triaging", "todo"),
        ("done", "todo"),
    ]


def test_a_processing_screenshot_is_normalizing_and_a_recording_is_sampling():
    image = AttachmentFactory(status=Attachment.Status.PROCESSING)
    video = AttachmentFactory(status=Attachment.Status.PROCESSING, kind=Attachment.Kind.VIDEO)
    assert stage_of(image)["label"] == "Normalizing"
    assert stage_of(video)["label"] == "Sampling frames"
    assert states(stage_of(video))[:2] == [("uploaded", "done"), ("sampling", "current")]


def test_a_done_screenshot_without_ocr_text_is_reading_then_waits_for_the_others():
    attachment = AttachmentFactory(status=Attachment.Status.DONE, ticket__status=Ticket.Status.PROCESSING)
    rendition = RenditionFactory(attachment=attachment, kind=Rendition.Kind.IMAGE)
    assert stage_of(attachment)["key"] == "reading"
    RenditionText.objects.create(rendition=rendition, text="Error 500", engine="test")
    stage = stage_of(attachment)
    assert (stage["key"], stage["label"]) == ("waiting", "Waiting for the other files")
    assert ("reading", "done") in states(stage) and ("triaging", "current") in states(stage)


def test_without_ocr_there_is_no_reading_step():
    attachment = AttachmentFactory(status=Attachment.Status.DONE, ticket__status=Ticket.Status.PROCESSING)
    RenditionFactory(attachment=attachment, kind=Rendition.Kind.IMAGE)
    stage = stage_of(attachment, ocr=False)
    assert stage["key"] == "waiting"
    assert [key for key, _ in states(stage)] == ["uploaded", "normalizing", "triaging", "done"]


@pytest.mark.parametrize(
    ("ticket_status", "key", "terminal"),
    [
        (Ticket.Status.TRIAGING, "triaging", False),
        (Ticket.Status.NEEDS_REVIEW, "done", True),
        (Ticket.Status.MANUAL_TRIAGE, "done", True),
    ],
)
def test_a_done_attachment_follows_the_tickets_triage(ticket_status, key, terminal):
    attachment = AttachmentFactory(status=Attachment.Status.DONE, ticket__status=ticket_status)
    stage = stage_of(attachment)
    assert (stage["key"], stage["terminal"]) == (key, terminal)
    if key == "done":
        assert all(state == "done" for _, state in states(stage))


def test_a_rejected_recording_stops_at_sampling_with_its_reason_on_the_page(client):
    attachment = AttachmentFactory(
        status=Attachment.Status.REJECTED,
        kind=Attachment.Kind.VIDEO,
        reject_reason="the recording cannot be decoded",
        ticket__status=Ticket.Status.NEEDS_REVIEW,
    )
    stage = stage_of(attachment)
    assert (stage["key"], stage["label"], stage["terminal"]) == ("rejected", "Rejected", True)
    assert states(stage) == [("uploaded", "done"), ("sampling", "failed")]

    client.force_login(UserFactory())
    html = client.get(reverse("triage:ticket-detail", args=[attachment.ticket_id])).content.decode()
    assert 'data-stage="rejected"' in html
    assert "Rejected: the recording cannot be decoded" in html


def test_the_live_fragment_shows_each_attachments_stage_without_a_query_per_attachment(client, settings):
    settings.TRIAGE_OCR_ENABLED = True
    client.force_login(UserFactory())
    ticket = TicketFactory(status=Ticket.Status.PROCESSING)
    url = reverse("triage:ticket-detail", args=[ticket.id]) + "?fragment=live"

    def queries_and_stages() -> tuple[int, list[str]]:
        client.get(url, headers={"HX-Request": "true"})  # warm the session
        with CaptureQueriesContext(connection) as queries:
            html = client.get(url, headers={"HX-Request": "true"}).content.decode()
        assert 'hx-trigger="every' in html  # still polling: the ticket is in progress
        return len(queries), re.findall(r'data-stage="(\w+)"', html)

    for status, kind in [
        (Attachment.Status.QUEUED, Attachment.Kind.IMAGE),
        (Attachment.Status.PROCESSING, Attachment.Kind.VIDEO),
        (Attachment.Status.DONE, Attachment.Kind.IMAGE),
        (Attachment.Status.FAILED, Attachment.Kind.IMAGE),
    ]:
        attachment = AttachmentFactory(ticket=ticket, status=status, kind=kind)
        RenditionFactory(attachment=attachment, kind=Rendition.Kind.IMAGE)
        if status == Attachment.Status.QUEUED:
            one, stages = queries_and_stages()
            assert stages == ["uploaded"]
    four, stages = queries_and_stages()
    assert stages == ["uploaded", "sampling", "reading", "failed"]
    assert four == one
