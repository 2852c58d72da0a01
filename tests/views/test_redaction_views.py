"""What people see with TRIAGE_REDACT=everywhere: redacted unless they may view sensitive data;
the ticket page's report of what went to the model redacted, with the overlay."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from PIL import Image

from tests.factories import AttachmentFactory, RenditionFactory, TriageRunFactory, UserFactory, png_bytes
from triage.models import Rendition, RenditionText, Ticket

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("view_taxonomy")]

EMAIL = "anna.schmidt@example.de"


@pytest.fixture
def ticket():
    ticket = Ticket.objects.create(
        subject=f"Refund to {EMAIL}",
        description="Card 4242 4242 4242 4242 was charged twice.",
        requester_email=EMAIL,
        status=Ticket.Status.NEEDS_REVIEW,
    )
    shot = AttachmentFactory(ticket=ticket, original_name="pay.png")
    rendition = RenditionFactory(
        attachment=shot, content=png_bytes(400, 100, (255, 255, 255)), width=400, height=100
    )
    RenditionText.objects.create(
        rendition=rendition,
        text=f"Contact: {EMAIL}",
        lines=[{"text": f"Contact: {EMAIL}", "score": 0.9, "box": [20, 40, 300, 60]}],
        engine="t",
    )
    TriageRunFactory(
        ticket=ticket,
        details={
            "redaction": {
                "text": {"email": 2, "card": 1},
                "media": [
                    {"label": "screenshot 'pay.png'", "counts": {"email": 1}, "boxes": [[60, 36, 304, 64]]}
                ],
                "videos_as_frames": [],
            }
        },
    )
    return ticket


def _login(client, *, sensitive: bool):
    user = UserFactory()
    if sensitive:
        user.user_permissions.add(Permission.objects.get(codename="view_sensitive_data"))
    client.force_login(user)
    return client


def test_the_page_says_what_went_to_the_model_redacted_and_draws_the_boxes(client, ticket, settings):
    settings.TRIAGE_REDACT = "model"
    html = (
        _login(client, sensitive=False)
        .get(reverse("triage:ticket-detail", args=[ticket.id]))
        .content.decode()
    )
    assert "Redacted before the model saw it" in html
    assert "2 emails, 1 card number in the text" in html
    assert "1 email in screenshot &#x27;pay.png&#x27; at (60, 36)" in html
    assert 'id="redaction-toggle"' in html and 'class="cover"' in html
    assert EMAIL in html  # "model" redacts what leaves, not what staff see


def test_everywhere_redacts_the_page_the_image_and_the_original_for_a_user_without_the_permission(
    client, ticket, settings
):
    settings.TRIAGE_REDACT = "everywhere"
    _login(client, sensitive=False)
    html = client.get(reverse("triage:ticket-detail", args=[ticket.id])).content.decode()
    assert EMAIL not in html and "4242 4242 4242 4242" not in html
    assert "[email 1]" in html and "[card ••••4242]" in html
    assert "view sensitive data" in html and 'id="redaction-toggle"' not in html
    rendition = ticket.attachments.get().renditions.get(kind=Rendition.Kind.IMAGE)
    image = client.get(reverse("triage:rendition-file", args=[rendition.id]))
    assert image.status_code == 200
    assert Image.open(io.BytesIO(b"".join(image))).convert("RGB").getpixel((200, 50)) == (0, 0, 0)
    original = client.get(reverse("triage:attachment-file", args=[ticket.attachments.get().id]))
    assert original.status_code == 403
    ticket.refresh_from_db()
    assert ticket.requester_email == EMAIL  # only what was shown changed


def test_everywhere_shows_originals_to_a_user_with_the_permission(client, ticket, settings):
    settings.TRIAGE_REDACT = "everywhere"
    _login(client, sensitive=True)
    html = client.get(reverse("triage:ticket-detail", args=[ticket.id])).content.decode()
    assert EMAIL in html and 'id="redaction-toggle"' in html
    rendition = ticket.attachments.get().renditions.get(kind=Rendition.Kind.IMAGE)
    image = client.get(reverse("triage:rendition-file", args=[rendition.id]))
    assert Image.open(io.BytesIO(b"".join(image))).convert("RGB").getpixel((200, 50)) == (255, 255, 255)
