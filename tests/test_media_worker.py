"""The media worker process against hostile files and the largest image it accepts.

A real `celery worker` (prefork, two children) gets one ticket carrying every kind of bad file that
passes the upload's content sniff, plus the largest image the limits allow and a good recording.
Nothing may kill a child, every attachment must end with a reason, and no child may grow past a
fixed ceiling (CELERY_WORKER_MAX_MEMORY_PER_CHILD recycles one that does, which would show here as
a new pid).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests import media_samples as samples
from tests.test_pipeline_e2e import http_create_ticket, http_login
from tests.worker import wait_for
from triage.models import Attachment, Ticket

pytestmark = pytest.mark.django_db(transaction=True)

# The limit the worker runs with in this test, and the ceiling its children must stay under: the
# decoded RGB bitmap (72 MB) and its downscale, on top of ~100 MB of Python, Django and Pillow,
# and the OCR model (~300 MB once loaded, services/ocr.py) in the child that reads the text.
SOURCE_MAX_PIXELS = 6000 * 4000
CHILD_CEILING_MIB = 600


def _children(pid: int) -> list[int]:
    return sorted(int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split())


def _peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for {pid}")


def _largest_screenshot() -> bytes:
    img = samples.screenshot_image((6000, 4000))
    out = io.BytesIO()
    img.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def test_hostile_files_are_rejected_with_reasons_and_the_worker_stays_small_and_alive(
    live_server, start_worker, taxonomy, tmp_path: Path
):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("mem-agent", password="mem-pass-123")
    worker = start_worker(TRIAGE_SOURCE_MAX_PIXELS=str(SOURCE_MAX_PIXELS), TRIAGE_VIDEO_FRAMES="4")
    wait_for(lambda: len(_children(worker.proc.pid)) == 2, timeout=30, message="two pool children")
    children = _children(worker.proc.pid)

    good_clip = samples.video_file(tmp_path, "mp4", seconds=2).read_bytes()
    files = [
        ("largest.png", _largest_screenshot(), "image/png"),
        ("bomb.png", samples.bomb_png(), "image/png"),
        ("over-the-limit.png", samples.bomb_png(6001, 4000), "image/png"),
        ("cut.png", samples.truncated(samples.image_bytes("PNG", size=(1200, 800)), 0.4), "image/png"),
        ("polyglot.gif", samples.POLYGLOT_GIF_JS, "image/gif"),
        ("cut.mp4", samples.truncated(good_clip, 0.05), "video/mp4"),
        (
            "sound-only.mp4",
            samples.video_file(tmp_path, "mp4", audio_only=True, name="a").read_bytes(),
            "video/mp4",
        ),
        ("good.mp4", good_clip, "video/mp4"),
    ]
    session = http_login(live_server.url, "mem-agent", "mem-pass-123")
    response = http_create_ticket(
        live_server.url, session, files=files, subject="Everything broke", description="See the files."
    )
    assert response.status_code == 200, response.text[:1000]
    ticket = Ticket.objects.get(subject="Everything broke")

    wait_for(
        lambda: (
            Ticket.objects.get(id=ticket.id).status
            in (Ticket.Status.NEEDS_REVIEW, Ticket.Status.MANUAL_TRIAGE)
        ),
        timeout=180,
        message="the ticket to reach the review queue",
    )
    outcome = {a.original_name: a for a in Attachment.objects.filter(ticket=ticket)}
    assert outcome["largest.png"].status == Attachment.Status.DONE, outcome["largest.png"].reject_reason
    assert outcome["good.mp4"].status == Attachment.Status.DONE, outcome["good.mp4"].reject_reason
    for name in ("bomb.png", "over-the-limit.png", "cut.png", "polyglot.gif", "cut.mp4", "sound-only.mp4"):
        attachment = outcome[name]
        assert attachment.status == Attachment.Status.REJECTED, (
            name,
            attachment.status,
            attachment.reject_reason,
        )
        assert attachment.reject_reason and "internal error" not in attachment.reject_reason, name
    assert "more pixels than we accept" in outcome["bomb.png"].reject_reason
    assert "6001x4000 pixels; at most 24 megapixels" in outcome["over-the-limit.png"].reject_reason

    # no child died or was recycled, and none grew past the ceiling
    assert worker.proc.poll() is None
    assert _children(worker.proc.pid) == children
    peaks = [_peak_mib(pid) for pid in children]
    print(f"worker children peak RSS (VmHWM): {', '.join(f'{p:.0f} MiB' for p in peaks)}")
    assert max(peaks) < CHILD_CEILING_MIB, peaks
