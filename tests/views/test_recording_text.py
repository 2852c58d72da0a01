from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import AttachmentFactory, RenditionFactory, UserFactory, triaged_ticket
from triage.models import Rendition, RenditionText

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("view_taxonomy")]


def test_a_recordings_text_is_one_section_each_line_once_with_its_first_moment(client):
    client.force_login(UserFactory())
    ticket = triaged_ticket()
    video = AttachmentFactory(ticket=ticket, video=True, original_name="crash.webm")
    texts = ["Acme Shop\nOrder #1", "Acme  Shop\nOrder #1\nPayment failed", "acme shop\nPayment failed"]
    for index, text in enumerate(texts):
        frame = RenditionFactory(
            attachment=video, kind=Rendition.Kind.FRAME, index=index, timestamp_ms=index * 1500
        )
        RenditionText.objects.create(rendition=frame, text=text)
    page = client.get(reverse("triage:ticket-detail", args=[ticket.id])).content.decode()
    assert page.count("Text read from") == 1
    assert "Text read from the recording (3 lines" in page
    assert 'data-seek="1.500" aria-label="Play from 00:01.5">00:01.5</a> Payment failed' in page
    assert 'aria-label="Recording crash.webm"' in page
    assert 'data-seek="0.000" aria-label="Play from 00:00.0"' in page  # the frame strip seeks too
    assert 'class="skip-link" href="#main"' in page
