"""Proof that planted personal data never reaches the outside model: a real worker triages a ticket
with Kimi (the local fake), and everything the fake received is read back (text parts decoded,
every image and video frame OCR'd with the app's own engine). No planted value may appear."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.kimi_fake import seen_by_the_model
from tests.test_pipeline_e2e import DONE_STATES, _ticket_id, http_create_ticket, http_login
from tests.worker import wait_for
from triage.adapters.ocr import RapidOcrReader
from triage.demo_media import render_recording, render_screenshot
from triage.models import Ticket

pytestmark = pytest.mark.django_db(transaction=True)

EMAIL = "maria.lopez@example.com"
CARD = "4111 1111 1111 1111"
IBAN = "DE89 3704 0044 0532 0130 00"
PHONE = "+49 151 23456789"
SECRET = "Hunter2Secret"
VIDEO_EMAIL = "jonas.berg@example.org"
REPLY = {
    "summary": "The customer [email 1] was charged twice.",
    "category": {"value": "billing", "confidence": 0.9},
    "priority": {"value": "high", "confidence": 0.8},
    "queue": {"value": "billing_team", "confidence": 0.8},
    "sentiment": {"value": "negative", "confidence": 0.7},
    "language": {"value": "en", "confidence": 0.99},
}


def _norm(text: str) -> str:
    return re.sub(r"[\s\-().]", "", text).lower()


@pytest.fixture
def agent(taxonomy):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user("e2e-agent", password="e2e-pass-123")


def test_no_planted_value_reaches_the_model_in_text_images_frames_or_video(
    live_server, start_worker, agent, kimi_fake, tmp_path: Path
):
    screenshot = render_screenshot(
        title="Billing",
        lines=[f"Email: {EMAIL}", f"Card: {CARD}", f"IBAN: {IBAN}", f"Phone: {PHONE}", "Total 129 EUR"],
        error_dialog=f"password: {SECRET}",
    )
    video = tmp_path / "rec.mp4"
    render_recording(video, seconds=4, error_text=f"Mail {VIDEO_EMAIL}")
    # before the fix, this is what the model got: the values are where the fake can read them
    reader = RapidOcrReader()
    assert EMAIL in reader.read(screenshot).text

    kimi_fake.reply_json(REPLY)
    start_worker(
        TRIAGE_PROVIDER="kimi",
        KIMI_API_KEY="sk-test",
        KIMI_BASE_URL=kimi_fake.base_url,
        TRIAGE_REDACT="model",
        TRIAGE_OCR_ENABLED="true",
        TRIAGE_VIDEO_FRAMES="4",
        KIMI_THINKING="off",
    )
    session = http_login(live_server.url, "e2e-agent", "e2e-pass-123")
    response = http_create_ticket(
        live_server.url,
        session,
        files=[("pay.png", screenshot, "image/png"), ("recording.mp4", video.read_bytes(), "video/mp4")],
        subject=f"Charged twice, card {CARD}",
        description=f"Please refund to {IBAN}. Call {PHONE} or write to {EMAIL}. My password: {SECRET}",
        requester_email=EMAIL,
    )
    ticket_id = _ticket_id(response)
    wait_for(
        lambda: Ticket.objects.get(id=ticket_id).status in DONE_STATES, timeout=180, message="ticket triaged"
    )
    ticket = Ticket.objects.get(id=ticket_id)
    assert ticket.status == Ticket.Status.NEEDS_REVIEW, ticket.latest_run.error_message

    seen = seen_by_the_model(kimi_fake, reader=reader)
    images = [text for where, text in seen if where.endswith(("image", "video"))]
    assert len(images) >= 2, seen  # the screenshot and the recording's frames went, redacted
    assert not [where for where, _ in seen if where.endswith("video") or where.startswith("upload")]
    leaks = [
        (value, where)
        for value in (EMAIL, CARD, IBAN, PHONE, SECRET, VIDEO_EMAIL)
        for where, text in seen
        if _norm(value) in _norm(text)
    ]
    assert leaks == []
    text = " ".join(t for w, t in seen if w.endswith("text"))
    assert "[email 1]" in text and "[card ••••1111]" in text and "[iban 1]" in text

    report = ticket.latest_run.details["redaction"]
    assert report["text"]["email"] >= 2 and report["text"]["card"] >= 1
    assert any("pay.png" in item["label"] for item in report["media"])
    page = session.get(f"{live_server.url}/tickets/{ticket_id}/", timeout=10)
    assert "Redacted before the model saw it" in page.text and "pay.png" in page.text
