"""The whole product path with a real worker process: HTTP upload -> media queue -> llm queue -> queue page.

Runs once on the embedded broker (filesystem) and, where available (always in CI), on Redis
against PostgreSQL: the production shape.
"""

from __future__ import annotations

import base64
import html
import json
import re
import time
from pathlib import Path

import pytest
import requests
from django.contrib.auth import get_user_model

from tests.worker import wait_for
from triage.demo_media import render_recording, render_screenshot
from triage.models import Attachment, Rendition, Ticket, TriageRun

pytestmark = pytest.mark.django_db(transaction=True)

DONE_STATES = (Ticket.Status.NEEDS_REVIEW, Ticket.Status.MANUAL_TRIAGE)


def _csrf(session: requests.Session, url: str) -> str:
    page = session.get(url, timeout=10)
    assert page.status_code == 200, page.text[:500]
    return session.cookies["csrftoken"]


def http_login(base: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    token = _csrf(session, f"{base}/accounts/login/")
    response = session.post(
        f"{base}/accounts/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=10,
    )
    assert response.status_code == 200 and "/accounts/login/" not in response.url, "login failed"
    return session


def http_create_ticket(
    base: str, session: requests.Session, *, files: list[tuple[str, bytes, str]], **fields: str
):
    token = _csrf(session, f"{base}/tickets/new/")
    return session.post(
        f"{base}/tickets/new/",
        data={"csrfmiddlewaretoken": token, **fields},
        files=[("attachments", (name, data, mime)) for name, data, mime in files],
        headers={"Referer": f"{base}/tickets/new/"},
        timeout=30,
    )


@pytest.fixture
def agent(taxonomy):
    return get_user_model().objects.create_user("e2e-agent", password="e2e-pass-123")


@pytest.fixture
def demo_media(tmp_path: Path) -> dict[str, bytes]:
    video = tmp_path / "rec.mp4"
    render_recording(video, seconds=4, width=640, height=360, error_text="Payment failed: HTTP 500")
    return {
        "png": render_screenshot(
            title="Checkout", lines=["Total 129 EUR"], error_dialog="Payment failed: HTTP 500"
        ),
        "mp4": video.read_bytes(),
    }


def _ticket_id(response: requests.Response) -> int:
    match = re.search(r"/tickets/(\d+)/", response.url)
    assert match, f"not redirected to the ticket page: {response.url}\n{response.text[:1000]}"
    return int(match.group(1))


def test_ticket_with_screenshot_and_recording_goes_from_upload_to_triaged(
    live_server, start_worker, agent, demo_media
):
    start_worker(TRIAGE_VIDEO_FRAMES="4")
    session = http_login(live_server.url, "e2e-agent", "e2e-pass-123")

    started = time.monotonic()
    response = http_create_ticket(
        live_server.url,
        session,
        files=[
            ("checkout.png", demo_media["png"], "image/png"),
            ("recording.mp4", demo_media["mp4"], "video/mp4"),
        ],
        subject="Checkout fails with error 500 when paying by card",
        description="Every card payment fails at the last step with HTTP 500. Recording attached.",
        requester_email="buyer@example.com",
    )
    ticket_id = _ticket_id(response)
    wait_for(
        lambda: Ticket.objects.get(id=ticket_id).status in DONE_STATES, timeout=120, message="ticket triaged"
    )
    elapsed = time.monotonic() - started
    print(f"\nupload-to-triaged with the offline model: {elapsed:.2f} s")

    ticket = Ticket.objects.get(id=ticket_id)
    assert ticket.status == Ticket.Status.NEEDS_REVIEW
    assert ticket.category and ticket.priority and ticket.queue and ticket.summary
    run = ticket.latest_run
    assert run.status == TriageRun.Status.DONE and run.provider == "local"

    image, video = ticket.attachments.order_by("id")
    assert image.status == video.status == Attachment.Status.DONE
    assert image.sha256 in image.file.name and "checkout" not in image.file.name
    assert image.renditions.filter(kind=Rendition.Kind.IMAGE).count() == 1
    frames = list(video.renditions.filter(kind=Rendition.Kind.FRAME).order_by("index"))
    assert len(frames) == 4
    stamps = [f.timestamp_ms for f in frames]
    assert stamps == sorted(stamps) and stamps[-1] < 4000
    assert video.duration_s == pytest.approx(4.0, abs=0.5)

    # the queue page shows it, and the ticket page plays the video
    queue = session.get(f"{live_server.url}/", timeout=10)
    assert ticket.subject in queue.text
    page = session.get(f"{live_server.url}/tickets/{ticket_id}/", timeout=10)
    assert "<video" in page.text


def test_kimi_provider_sends_images_and_frames_and_survives_a_429(
    live_server, start_worker, agent, demo_media, kimi_fake
):
    reply = {
        "summary": "Card payments fail at checkout with HTTP 500.",
        "category": {"value": "bug", "confidence": 0.92},
        "priority": {"value": "urgent", "confidence": 0.81},
        "queue": {"value": "engineering", "confidence": 0.77},
        "sentiment": {"value": "negative", "confidence": 0.88},
        "language": {"value": "en", "confidence": 0.99},
    }
    kimi_fake.reply_error(
        429, "engine_overloaded_error", "The engine is currently overloaded", headers={"Retry-After": "0"}
    )
    kimi_fake.reply_json(reply)
    start_worker(
        TRIAGE_PROVIDER="kimi",
        KIMI_API_KEY="sk-test",
        KIMI_BASE_URL=kimi_fake.base_url,
        TRIAGE_VIDEO_FRAMES="3",
        TRIAGE_VIDEO_REPRESENTATION="frames",
    )
    session = http_login(live_server.url, "e2e-agent", "e2e-pass-123")
    response = http_create_ticket(
        live_server.url,
        session,
        files=[
            ("checkout.png", demo_media["png"], "image/png"),
            ("recording.mp4", demo_media["mp4"], "video/mp4"),
        ],
        subject="Checkout fails",
        description="HTTP 500 on pay.",
        requester_email="buyer@example.com",
    )
    ticket_id = _ticket_id(response)
    wait_for(
        lambda: Ticket.objects.get(id=ticket_id).status in DONE_STATES, timeout=120, message="ticket triaged"
    )

    ticket = Ticket.objects.get(id=ticket_id)
    assert ticket.status == Ticket.Status.NEEDS_REVIEW, ticket.latest_run.error_message
    assert (ticket.category, ticket.priority, ticket.queue) == ("bug", "urgent", "engineering")
    assert ticket.latest_run.provider == "kimi" and ticket.latest_run.prompt_tokens > 0

    assert len(kimi_fake.requests) == 2  # the 429, retried by the SDK, then the answer
    body = kimi_fake.requests[-1]
    assert body["model"] == "kimi-k2.6" and "temperature" not in body
    assert body["response_format"] == {"type": "json_object"}
    parts = [p for m in body["messages"] if isinstance(m["content"], list) for p in m["content"]]
    images = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert len(images) == 1 + 3  # the screenshot and three frames
    assert all(url.startswith("data:image/") and ";base64," in url for url in images)
    base64.b64decode(images[0].split(",", 1)[1], validate=True)
    texts = " ".join(p["text"] for p in parts if p["type"] == "text")
    assert "frame at 00:00:0" in texts
    json.dumps(body)  # the recorded body is plain JSON


def test_kimi_gets_a_short_recording_as_video_uploaded_through_the_files_api(
    live_server, start_worker, agent, demo_media, kimi_fake
):
    kimi_fake.reply_json(
        {
            "summary": "Payment fails with HTTP 500 in the recording.",
            "category": {"value": "bug", "confidence": 0.9},
            "priority": {"value": "high", "confidence": 0.8},
            "queue": {"value": "engineering", "confidence": 0.8},
            "sentiment": {"value": "neutral", "confidence": 0.7},
            "language": {"value": "en", "confidence": 0.99},
        }
    )
    kimi_fake.estimate_total = 3210
    start_worker(
        TRIAGE_PROVIDER="kimi",
        KIMI_API_KEY="sk-test",
        KIMI_BASE_URL=kimi_fake.base_url,
        KIMI_INLINE_VIDEO_MAX_BYTES="1000",  # any real video is larger: upload it
        TRIAGE_REDACT="off",  # OCR is off here: with redaction, unread frames never go as video
    )
    session = http_login(live_server.url, "e2e-agent", "e2e-pass-123")
    response = http_create_ticket(
        live_server.url,
        session,
        files=[("recording.mp4", demo_media["mp4"], "video/mp4")],
        subject="Pay button",
        description="Watch the recording.",
    )
    ticket_id = _ticket_id(response)
    wait_for(
        lambda: Ticket.objects.get(id=ticket_id).status in DONE_STATES, timeout=120, message="ticket triaged"
    )
    ticket = Ticket.objects.get(id=ticket_id)
    assert ticket.status == Ticket.Status.NEEDS_REVIEW, ticket.latest_run.error_message
    video = ticket.attachments.get()
    assert video.metadata["representation"] == "native-video", video.metadata["why"]
    assert video.renditions.filter(kind=Rendition.Kind.MODEL_VIDEO).exists()

    (upload,) = kimi_fake.uploads
    assert upload["purpose"] == "video" and upload["bytes"] > 1000
    assert kimi_fake.deleted == [upload["id"]]
    body = kimi_fake.requests[-1]
    parts = body["messages"][1]["content"]
    assert [p["video_url"]["url"] for p in parts if p["type"] == "video_url"] == [f"ms://{upload['id']}"]
    assert not [p for p in parts if p["type"] == "image_url"]  # the video instead of its frames
    assert len(kimi_fake.estimate_requests) == 1
    assert ticket.latest_run.estimated_prompt_tokens == 3210

    page = http_login(live_server.url, "e2e-agent", "e2e-pass-123").get(
        f"{live_server.url}/tickets/{ticket_id}/", timeout=10
    )
    assert "recording sent as the video itself (~" in page.text


def test_a_broken_recording_is_rejected_with_a_reason_and_the_ticket_still_lands(
    live_server, start_worker, agent, demo_media
):
    start_worker()
    session = http_login(live_server.url, "e2e-agent", "e2e-pass-123")
    truncated = demo_media["mp4"][:4096]  # the container header survives, the frames do not
    response = http_create_ticket(
        live_server.url,
        session,
        files=[("screen.png", demo_media["png"], "image/png"), ("broken.mp4", truncated, "video/mp4")],
        subject="Login page error",
        description="See attached.",
        requester_email="user@example.com",
    )
    ticket_id = _ticket_id(response)
    wait_for(
        lambda: Ticket.objects.get(id=ticket_id).status in DONE_STATES, timeout=120, message="ticket triaged"
    )
    broken = Attachment.objects.get(ticket_id=ticket_id, original_name="broken.mp4")
    assert broken.status == Attachment.Status.REJECTED
    assert broken.reject_reason
    assert (
        Attachment.objects.get(ticket_id=ticket_id, original_name="screen.png").status
        == Attachment.Status.DONE
    )
    page = session.get(f"{live_server.url}/tickets/{ticket_id}/", timeout=10)
    assert html.escape(broken.reject_reason[:40]) in page.text
