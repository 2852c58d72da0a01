from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import AttachmentFactory, RenditionFactory, TicketFactory
from triage.models import RenditionText, Ticket

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("view_taxonomy")]


def _with_screen(subject: str, description: str, ocr: str, *, ago: timedelta) -> Ticket:
    ticket = TicketFactory(subject=subject, description=description)
    Ticket.objects.filter(id=ticket.id).update(created_at=timezone.now() - ago)
    rendition = RenditionFactory(attachment=AttachmentFactory(ticket=ticket))
    RenditionText.objects.create(rendition=rendition, text=ocr, engine="test")
    return ticket


def test_the_ticket_page_proposes_the_earlier_ticket_with_the_same_screen_error_and_marks_it(agent):
    original = _with_screen(
        "Sync stopped", "The sync stopped.", "Sync error E_TIMEOUT", ago=timedelta(days=1)
    )
    new = _with_screen(
        "Data not syncing",
        "Nothing arrives on my phone.",
        "Sync error E_TIMEOUT at 00:00:02.500",
        ago=timedelta(0),
    )
    page = agent.get(reverse("triage:ticket-detail", args=[new.id])).content.decode()
    assert f'hx-get="{reverse("triage:ticket-similar", args=[new.id])}"' in page  # loaded after the page
    html = agent.get(reverse("triage:ticket-similar", args=[new.id])).content.decode()
    assert 'id="similar"' in html and original.reference in html
    assert "same error &#x27;E_TIMEOUT&#x27; in screenshot" in html
    assert f"Mark as duplicate of {original.reference}" in html
    agent.post(
        reverse("triage:ticket-action", args=[new.id]),
        {"action": "duplicate", "original": original.reference},
    )
    new.refresh_from_db()
    assert new.duplicate_of_id == original.id


def test_no_section_when_nothing_earlier_is_similar(agent):
    ticket = _with_screen(
        "Invoice address", "Please change my invoice address.", "Settings", ago=timedelta(0)
    )
    html = agent.get(reverse("triage:ticket-similar", args=[ticket.id])).content.decode()
    assert 'id="similar"' not in html


def test_under_everywhere_a_user_without_the_permission_sees_no_subject_words_in_the_reason(client, settings):
    from tests.factories import UserFactory

    settings.TRIAGE_REDACT = "everywhere"
    original = _with_screen(
        "Refund for Janet Quill", "Please refund Janet Quill.", "Settings", ago=timedelta(days=1)
    )
    new = _with_screen(
        "Refund for Janet Quill again", "Refund Janet Quill please.", "Settings", ago=timedelta(0)
    )
    client.force_login(UserFactory())
    html = client.get(reverse("triage:ticket-similar", args=[new.id])).content.decode()
    assert original.reference in html and "similar subject" in html
    assert "janet" not in html.lower() and "quill" not in html.lower()
    settings.TRIAGE_REDACT = "model"  # the same user where nothing is hidden: the words are the reason
    html = client.get(reverse("triage:ticket-similar", args=[new.id])).content.decode()
    assert "subject words:" in html and "janet" in html.lower()
