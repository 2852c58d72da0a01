"""A worker SIGKILLed (no warm shutdown: the OOM killer, a node lost) in the middle of a media job
and in the middle of a model call. acks_late + reject_on_worker_lost and Redis' visibility timeout
redeliver the job to a new worker; the ticket completes with no duplicate renditions or runs.
"""

from __future__ import annotations

import os
import signal
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from tests import media_samples as samples
from tests.kimi_fake import BILLING_REPLY
from tests.test_pipeline_e2e import http_create_ticket, http_login
from tests.worker import wait_for
from triage.models import Attachment, Rendition, Ticket, TriageRun
from triage.services.sweep import sweep_run
from triage.services.tickets import ticket_create

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

DONE_STATES = (Ticket.Status.NEEDS_REVIEW, Ticket.Status.MANUAL_TRIAGE)
# Redis redelivers an unacknowledged message after this; longer than the media job takes again.
VISIBILITY_S = "10"
RESTORE = {"CELERY_UNACKED_RESTORE_INTERVAL_S": "2", "CELERY_UNACKED_RESTORE_THROTTLE": "1"}


def _hanging_ffmpeg(folder: Path, started: Path) -> Path:
    """An ffmpeg stand-in that marks that it was called, then never finishes."""
    script = folder / "ffmpeg-hangs"
    script.write_text(f'#!/bin/sh\ntouch "{started}"\nexec sleep 600\n')
    script.chmod(0o755)
    return script


def _kill(worker) -> None:
    os.killpg(worker.proc.pid, signal.SIGKILL)  # the whole group: the pool children and ffmpeg too
    worker.proc.wait(timeout=10)


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_a_worker_killed_mid_media_job_is_redelivered_and_makes_one_set_of_renditions(
    live_server, start_worker, taxonomy, broker, tmp_path: Path
):
    get_user_model().objects.create_user("kill-agent", password="kill-pass-123")
    clip = samples.video_file(tmp_path, "mp4", seconds=20, size=(640, 360), fps=25, audio=False)
    media_env = {"TRIAGE_VIDEO_REPRESENTATION": "native", **RESTORE}
    # The first worker's ffmpeg announces itself and then hangs: the job is held mid-way, inside
    # ffmpeg, for as long as the test needs, however fast the machine (polling for the PROCESSING
    # status raced a job that can now finish in a second or two).
    started = tmp_path / "ffmpeg-started"
    hang = _hanging_ffmpeg(tmp_path, started)
    worker = start_worker(
        queues="media", CELERY_VISIBILITY_TIMEOUT_S=VISIBILITY_S, IMAGEIO_FFMPEG_EXE=str(hang), **media_env
    )
    session = http_login(live_server.url, "kill-agent", "kill-pass-123")
    response = http_create_ticket(
        live_server.url, session, files=[("screen.mp4", clip.read_bytes(), "video/mp4")],
        subject="The editor freezes", description="Recording attached.",
    )  # fmt: skip
    assert response.status_code == 200
    attachment = Attachment.objects.get()
    wait_for(started.exists, timeout=90, message="the media job to start ffmpeg")
    assert Attachment.objects.get(id=attachment.id).status == Attachment.Status.PROCESSING
    _kill(worker)  # at once: inside ffmpeg
    assert Attachment.objects.get(id=attachment.id).status == Attachment.Status.PROCESSING

    start_worker(queues="media,llm", CELERY_VISIBILITY_TIMEOUT_S=VISIBILITY_S, **media_env)
    wait_for(
        lambda: Ticket.objects.get(id=attachment.ticket_id).status in DONE_STATES,
        timeout=240,
        message="the redelivered media job and the triage to finish",
    )
    attachment.refresh_from_db()
    assert attachment.status == Attachment.Status.DONE, attachment.reject_reason
    slots = list(Rendition.objects.filter(attachment=attachment).values_list("kind", "index"))
    assert len(slots) == len(set(slots))  # one row per slot (the unique constraint holds it too)
    frames = sorted(i for kind, i in slots if kind == Rendition.Kind.FRAME)
    assert frames == list(range(len(frames))) and frames  # one complete set, no gaps, no extras
    assert [kind for kind, _ in slots].count(Rendition.Kind.THUMB) <= 1
    assert TriageRun.objects.filter(ticket_id=attachment.ticket_id).count() == 1
    assert Ticket.objects.count() == 1 and Attachment.objects.count() == 1


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_a_worker_killed_mid_model_call_is_redelivered_and_leaves_one_done_run(
    start_worker, taxonomy, broker, kimi_fake
):
    kimi_fake.reply_slow(300, BILLING_REPLY)  # held open until the test ends: the worker dies first
    kimi_fake.reply_json(BILLING_REPLY)
    kimi_env = {
        "TRIAGE_PROVIDER": "kimi",
        "KIMI_API_KEY": "sk-test",
        "KIMI_BASE_URL": kimi_fake.base_url,
        "KIMI_MAX_RETRIES": "0",
        "KIMI_SLOT_LEASE_S": "5",  # the dead worker's request slot is freed soon
        "CELERY_VISIBILITY_TIMEOUT_S": VISIBILITY_S,
        **RESTORE,
    }
    worker = start_worker(queues="llm", **kimi_env)
    ticket = ticket_create(
        subject="Rechnung doppelt abgebucht",
        description="Die Rechnung wurde zweimal von der Kreditkarte abgebucht. Bitte erstatten.",
        requester_email="kunde@example.com",
    )
    wait_for(lambda: len(kimi_fake.requests) == 1, timeout=60, message="the model call to be in flight")
    assert TriageRun.objects.get(ticket=ticket).status == TriageRun.Status.RUNNING
    _kill(worker)

    start_worker(queues="llm", **kimi_env)
    wait_for(
        lambda: Ticket.objects.get(id=ticket.id).status in DONE_STATES,
        timeout=120,
        message="the redelivered triage to finish",
    )
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.NEEDS_REVIEW
    assert len(kimi_fake.requests) == 2  # the call that died with the worker, and the one that answered
    done = TriageRun.objects.filter(ticket=ticket, status=TriageRun.Status.DONE)
    assert done.count() == 1 and ticket.latest_run_id == done.get().id
    assert (ticket.category, ticket.latest_run.provider) == ("billing", "kimi")
    # the killed attempt's run is left RUNNING until the sweep closes it, marked abandoned
    assert sweep_run(now=timezone.now() + timedelta(hours=1))["runs"] == 1
    abandoned = TriageRun.objects.exclude(id=done.get().id).get(ticket=ticket)
    assert abandoned.status == TriageRun.Status.FAILED and "abandoned" in abandoned.error_message
    assert abandoned.error_kind == TriageRun.ErrorKind.TIMEOUT
