"""Web, a media worker and an llm worker as if on three machines: they share the database, the
broker and an S3 bucket, and nothing else (each has its own, empty MEDIA_ROOT). A ticket with a screenshot and a short recording
created over HTTP is processed by real worker processes (one per queue), its renditions land in the bucket, and the
ticket page serves them from there with the same safe headers as from disk."""

# ruff: noqa: F811 - the fixtures are imported from their modules and named as parameters
from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from tests import media_samples as samples
from tests.services.test_storage_s3 import s3_media, s3_server  # noqa: F401 - fixtures
from tests.test_pipeline_e2e import DONE_STATES, agent, http_create_ticket, http_login  # noqa: F401
from tests.worker import wait_for
from triage.models import Attachment, Rendition, Ticket

pytestmark = pytest.mark.django_db(transaction=True)


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_web_and_worker_on_different_machines_share_media_only_through_s3(
    live_server,
    start_worker,
    agent,
    s3_media,
    settings,
    tmp_path: Path,
):
    server, bucket = s3_media
    # two worker "machines", one per queue, each with its own empty MEDIA_ROOT
    worker_media = tmp_path / "worker-media-unused"
    llm_media = tmp_path / "worker-llm-unused"
    media_worker = start_worker(
        queues="media", MEDIA_ROOT=str(worker_media), TRIAGE_VIDEO_FRAMES="3", **server.env(bucket)
    )
    llm_worker = start_worker(queues="llm", MEDIA_ROOT=str(llm_media), **server.env(bucket))
    video = samples.video_file(tmp_path, "webm", seconds=2.0, size=(320, 240), fps=10, audio=False)
    screenshot = samples.image_bytes("PNG", size=(640, 400))
    session = http_login(live_server.url, "e2e-agent", "e2e-pass-123")
    response = http_create_ticket(
        live_server.url,
        session,
        files=[("shot.png", screenshot, "image/png"), ("rec.webm", video.read_bytes(), "video/webm")],
        subject="Export button does nothing",
        description="Clicking Export shows a spinner forever. Screenshot and recording attached.",
        requester_email="user@example.com",
    )
    match = re.search(r"/tickets/(\d+)/", response.url)
    assert match, response.text[:1000]
    ticket_id = int(match.group(1))
    wait_for(lambda: Ticket.objects.get(id=ticket_id).status in DONE_STATES, timeout=180, message="triaged")

    ticket = Ticket.objects.get(id=ticket_id)
    image, recording = ticket.attachments.order_by("id")
    assert (image.status, recording.status) == (Attachment.Status.DONE, Attachment.Status.DONE), (
        image.reject_reason,
        recording.reject_reason,
    )
    renditions = list(Rendition.objects.filter(attachment__ticket=ticket))
    kinds = {r.kind for r in renditions}
    assert Rendition.Kind.IMAGE in kinds and Rendition.Kind.FRAME in kinds
    # webm plays in browsers: no playback copy; the frames are what the worker made from the bucket
    in_bucket = server.keys(bucket)
    assert {image.file.name, recording.file.name} <= in_bucket
    assert {r.file.name for r in renditions} <= in_bucket
    assert all(name.startswith(("originals/", "renditions/")) for name in in_bucket)
    # neither "machine" kept a local copy: they could only have shared through the bucket
    assert _files_under(worker_media) == [] and _files_under(llm_media) == []
    # each queue was worked by its own process
    # (the start-up banner lists every task; a run is logged as "name[task id] succeeded")
    assert (
        "attachment_process_task[" in media_worker.log() and "ticket_triage_task[" not in media_worker.log()
    )
    assert "ticket_triage_task[" in llm_worker.log() and "attachment_process_task[" not in llm_worker.log()
    assert _files_under(Path(settings.MEDIA_ROOT)) == []

    page = session.get(f"{live_server.url}/tickets/{ticket_id}/", timeout=10)
    assert page.status_code == 200
    frame = next(r for r in renditions if r.kind == Rendition.Kind.FRAME)
    url = f"{live_server.url}/media/renditions/{frame.id}"
    assert f"/media/renditions/{frame.id}" in page.text
    served = session.get(url, timeout=10)
    stored = server.client().get_object(Bucket=bucket, Key=frame.file.name)["Body"].read()
    assert served.status_code == 200 and served.content == stored
    assert served.headers["Content-Type"] == frame.mime
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in served.headers["Content-Security-Policy"]
    assert served.headers["ETag"] == f'"{frame.sha256}"'
    partial = session.get(url, headers={"Range": "bytes=0-9"}, timeout=10)
    assert partial.status_code == 206 and partial.content == stored[:10]
    assert partial.headers["Content-Range"] == f"bytes 0-9/{len(stored)}"
    # a logged-out request is still refused (the bucket is private; Django is the only door)
    assert requests.get(url, timeout=10, allow_redirects=False).status_code in (302, 403)
