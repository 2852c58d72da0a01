from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from triage.adapters.media import MediaRejected
from triage.demo_media import render_recording, render_screenshot
from triage.models import Attachment, Rendition, Ticket
from triage.services import media
from triage.services.tickets import Upload, ticket_create

pytestmark = pytest.mark.django_db


def _upload(name: str, data: bytes) -> Upload:
    return Upload(fileobj=io.BytesIO(data), name=name, size_bytes=len(data))


@pytest.fixture
def screenshot() -> bytes:
    return render_screenshot(title="App", lines=["hello"], width=2880, height=1800, error_dialog="Error 42")


@pytest.fixture
def recording(tmp_path: Path) -> bytes:
    path = tmp_path / "r.mp4"
    render_recording(path, seconds=3, width=640, height=360)
    return path.read_bytes()


def test_upload_check_decides_by_content_not_by_name():
    with pytest.raises(MediaRejected) as err:
        media.upload_check(fileobj=io.BytesIO(b"just some text\n" * 10), name="shot.png", size_bytes=150)
    assert "not" in err.value.reason.lower()


def test_upload_check_rejects_an_empty_file():
    with pytest.raises(MediaRejected, match="empty"):
        media.upload_check(fileobj=io.BytesIO(b""), name="a.png", size_bytes=0)


def test_upload_check_enforces_the_size_limit_with_a_readable_message(settings, screenshot):
    settings.TRIAGE_MAX_IMAGE_BYTES = 1024
    with pytest.raises(MediaRejected, match="at most"):
        media.upload_check(fileobj=io.BytesIO(screenshot), name="a.png", size_bytes=len(screenshot))


def test_image_attachment_gets_a_normalized_rendition_and_the_ticket_moves_to_triage(
    screenshot, django_capture_on_commit_callbacks, settings
):
    ticket = ticket_create(
        subject="s", description="d", requester_email="", uploads=[_upload("x.png", screenshot)]
    )
    attachment = ticket.attachments.get()
    with django_capture_on_commit_callbacks() as callbacks:
        media.attachment_process(attachment_id=attachment.id)

    attachment.refresh_from_db()
    assert attachment.status == Attachment.Status.DONE
    assert (attachment.width, attachment.height) == (2880, 1800)
    rendition = attachment.renditions.get(kind=Rendition.Kind.IMAGE)
    thumb = attachment.renditions.get(kind=Rendition.Kind.THUMB)
    assert max(thumb.width, thumb.height) == 320 and thumb.mime == "image/jpeg"
    assert rendition.width * rendition.height <= settings.TRIAGE_IMAGE_MAX_PIXELS
    assert rendition.width < 2880
    with default_storage.open(rendition.file.name) as fh:
        assert Image.open(fh).size == (rendition.width, rendition.height)
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.TRIAGING
    assert len(callbacks) == 1  # the triage task, enqueued on commit


def test_processing_twice_is_a_no_op(screenshot):
    ticket = ticket_create(
        subject="s", description="d", requester_email="", uploads=[_upload("x.png", screenshot)]
    )
    attachment = ticket.attachments.get()
    media.attachment_process(attachment_id=attachment.id)
    first = list(Rendition.objects.values_list("id", "file"))
    media.attachment_process(attachment_id=attachment.id)
    assert list(Rendition.objects.values_list("id", "file")) == first


def test_a_redelivered_job_after_a_crash_redoes_only_the_same_slots(screenshot):
    ticket = ticket_create(
        subject="s", description="d", requester_email="", uploads=[_upload("x.png", screenshot)]
    )
    attachment = ticket.attachments.get()
    Attachment.objects.filter(id=attachment.id).update(status=Attachment.Status.PROCESSING)  # killed mid-job
    media.attachment_process(attachment_id=attachment.id)
    media.attachment_process(attachment_id=attachment.id)
    assert sorted(Rendition.objects.filter(attachment=attachment).values_list("kind", flat=True)) == [
        "IMAGE",
        "THUMB",
    ]


def test_video_attachment_gets_evenly_spaced_frames(recording, settings):
    settings.TRIAGE_VIDEO_FRAMES = 5
    ticket = ticket_create(
        subject="s", description="d", requester_email="", uploads=[_upload("r.mp4", recording)]
    )
    attachment = ticket.attachments.get()
    media.attachment_process(attachment_id=attachment.id)
    attachment.refresh_from_db()
    assert attachment.status == Attachment.Status.DONE, attachment.reject_reason
    assert attachment.duration_s == pytest.approx(3.0, abs=0.4)
    stamps = list(
        attachment.renditions.filter(kind=Rendition.Kind.FRAME)
        .order_by("index")
        .values_list("timestamp_ms", flat=True)
    )
    assert len(stamps) == 5
    assert stamps == sorted(stamps) and stamps[0] < 700 and stamps[-1] > 2000


def test_the_ticket_waits_for_every_attachment(screenshot, recording):
    ticket = ticket_create(
        subject="s",
        description="d",
        requester_email="",
        uploads=[_upload("x.png", screenshot), _upload("r.mp4", recording)],
    )
    image, video = ticket.attachments.order_by("id")
    media.attachment_process(attachment_id=image.id)
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.PROCESSING
    media.attachment_process(attachment_id=video.id)
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.TRIAGING


def test_a_corrupt_image_is_rejected_with_a_reason_and_does_not_stop_the_ticket(screenshot):
    ticket = ticket_create(
        subject="s", description="d", requester_email="", uploads=[_upload("x.png", screenshot)]
    )
    attachment = ticket.attachments.get()
    # same PNG signature, body cut short: passes the sniff, fails the decode in the worker
    default_storage.delete(attachment.file.name)
    default_storage.save(attachment.file.name, ContentFile(screenshot[:300]))
    media.attachment_process(attachment_id=attachment.id)
    attachment.refresh_from_db()
    assert attachment.status == Attachment.Status.REJECTED
    assert attachment.failure_kind == "bad_input" and attachment.reject_reason
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.TRIAGING


def test_the_same_screenshot_is_stored_once(screenshot):
    a = ticket_create(
        subject="a", description="", requester_email="", uploads=[_upload("one.png", screenshot)]
    )
    b = ticket_create(
        subject="b", description="", requester_email="", uploads=[_upload("two.png", screenshot)]
    )
    key_a, key_b = a.attachments.get().file.name, b.attachments.get().file.name
    assert key_a == key_b
    assert "one" not in key_a and key_a.endswith(".png")


def test_processing_a_deleted_attachment_does_nothing():
    media.attachment_process(attachment_id=987654)


def test_the_attachment_records_how_it_will_be_shown_to_the_model(screenshot, recording, settings):
    settings.TRIAGE_VIDEO_FRAMES = 4
    ticket = ticket_create(
        subject="s",
        description="d",
        requester_email="",
        uploads=[_upload("x.png", screenshot), _upload("r.mp4", recording)],
    )
    image, video = ticket.attachments.order_by("id")
    media.attachment_process(attachment_id=image.id)
    media.attachment_process(attachment_id=video.id)
    image.refresh_from_db()
    video.refresh_from_db()
    assert image.metadata["representation"] == "image" and image.metadata["why"]
    assert 0 < image.metadata["token_estimate"] <= 4300
    assert video.metadata["representation"] == "frames"
    assert video.metadata["strategy"] == "even" and video.metadata["codec"] == "h264"
    assert video.metadata["frames_chosen"] == video.renditions.filter(kind=Rendition.Kind.FRAME).count()


def test_a_small_token_budget_means_fewer_frames(recording, settings):
    settings.TRIAGE_VIDEO_FRAMES = 6
    settings.TRIAGE_VIDEO_REPRESENTATION = "frames"
    settings.TRIAGE_MEDIA_TOKEN_BUDGET = 1
    ticket = ticket_create(
        subject="s", description="d", requester_email="", uploads=[_upload("r.mp4", recording)]
    )
    attachment = ticket.attachments.get()
    media.attachment_process(attachment_id=attachment.id)
    attachment.refresh_from_db()
    assert attachment.status == Attachment.Status.DONE
    assert attachment.renditions.filter(kind=Rendition.Kind.FRAME).count() == 1
    assert "budget" in attachment.metadata["why"]


def test_a_rerun_that_chooses_another_representation_leaves_no_stale_renditions(recording, settings):
    settings.TRIAGE_VIDEO_FRAMES = 6
    settings.TRIAGE_MEDIA_TOKEN_BUDGET = 1500  # a storyboard
    ticket = ticket_create(
        subject="s", description="d", requester_email="", uploads=[_upload("r.mp4", recording)]
    )
    attachment = ticket.attachments.get()
    media.attachment_process(attachment_id=attachment.id)
    assert attachment.renditions.filter(kind=Rendition.Kind.STORYBOARD).exists()
    settings.TRIAGE_MEDIA_TOKEN_BUDGET = 100_000  # separate frames now
    Attachment.objects.filter(id=attachment.id).update(status=Attachment.Status.PROCESSING)
    media.attachment_process(attachment_id=attachment.id)
    attachment.refresh_from_db()
    assert attachment.metadata["representation"] == "frames"
    assert not attachment.renditions.filter(kind=Rendition.Kind.STORYBOARD).exists()


def test_recordings_share_what_the_images_leave_of_the_ticket_budget(screenshot, recording, settings):
    from triage.adapters.media.tokens import IMAGE_MAX_TOKENS

    settings.TRIAGE_MEDIA_TOKEN_BUDGET = 30_000
    ticket = ticket_create(
        subject="s",
        description="d",
        requester_email="",
        uploads=[
            _upload("a.png", screenshot),
            _upload("b.png", screenshot),
            _upload("r1.mp4", recording),
            _upload("r2.mp4", recording),
        ],
    )
    image, _, video, _ = ticket.attachments.order_by("id")
    assert media.attachment_token_budget(attachment=image) == 30_000
    assert media.attachment_token_budget(attachment=video) == (30_000 - 2 * IMAGE_MAX_TOKENS) // 2


def test_a_recording_the_frames_of_which_do_not_fit_becomes_a_storyboard(recording, settings):
    settings.TRIAGE_VIDEO_FRAMES = 6
    settings.TRIAGE_MEDIA_TOKEN_BUDGET = 1500
    ticket = ticket_create(
        subject="s", description="d", requester_email="", uploads=[_upload("r.mp4", recording)]
    )
    attachment = ticket.attachments.get()
    media.attachment_process(attachment_id=attachment.id)
    attachment.refresh_from_db()
    assert attachment.metadata["representation"] == "storyboard", attachment.metadata["why"]
    assert attachment.renditions.filter(kind=Rendition.Kind.STORYBOARD).count() == 1
    assert attachment.renditions.filter(kind=Rendition.Kind.FRAME).count() == 6


def test_with_kimi_configured_a_short_recording_is_kept_for_the_model_as_video(recording, settings):
    settings.TRIAGE_PROVIDER = "kimi"
    settings.KIMI_API_KEY = "sk-test"
    ticket = ticket_create(
        subject="s", description="d", requester_email="", uploads=[_upload("r.mp4", recording)]
    )
    attachment = ticket.attachments.get()
    media.attachment_process(attachment_id=attachment.id)
    attachment.refresh_from_db()
    assert attachment.metadata["representation"] == "native-video", attachment.metadata["why"]
    video = attachment.renditions.get(kind=Rendition.Kind.MODEL_VIDEO)
    assert video.mime == "video/mp4" and video.size_bytes > 0


def test_the_same_screenshot_attached_twice_is_processed_once(screenshot, monkeypatch):
    a = ticket_create(subject="a", description="", requester_email="", uploads=[_upload("1.png", screenshot)])
    b = ticket_create(subject="b", description="", requester_email="", uploads=[_upload("2.png", screenshot)])
    first, second = a.attachments.get(), b.attachments.get()
    media.attachment_process(attachment_id=first.id)

    def must_not_run(*args, **kwargs):
        raise AssertionError("processed twice")

    monkeypatch.setattr(media.media_pipeline, "process_media", must_not_run)
    media.attachment_process(attachment_id=second.id)
    second.refresh_from_db()
    assert second.status == Attachment.Status.DONE
    copied = list(second.renditions.values_list("kind", "index", "file", "sha256"))
    assert copied == list(first.renditions.values_list("kind", "index", "file", "sha256"))
    assert (second.width, second.height) == (2880, 1800)
    assert second.metadata["reused_from"] == first.id
    b.refresh_from_db()
    assert b.status == Ticket.Status.TRIAGING


def test_a_rejected_copy_is_not_reused(screenshot):
    a = ticket_create(subject="a", description="", requester_email="", uploads=[_upload("1.png", screenshot)])
    b = ticket_create(subject="b", description="", requester_email="", uploads=[_upload("2.png", screenshot)])
    first, second = a.attachments.get(), b.attachments.get()
    Attachment.objects.filter(id=first.id).update(status=Attachment.Status.REJECTED)
    media.attachment_process(attachment_id=second.id)
    second.refresh_from_db()
    assert second.status == Attachment.Status.DONE and "reused_from" not in second.metadata


def test_a_crash_in_the_pipeline_is_recorded_as_a_bug(screenshot, monkeypatch):
    from triage.adapters.media import images

    def boom(*args, **kwargs):
        raise KeyError("x")

    monkeypatch.setattr(images, "normalize_image", boom)
    ticket = ticket_create(
        subject="s", description="d", requester_email="", uploads=[_upload("x.png", screenshot)]
    )
    attachment = ticket.attachments.get()
    media.attachment_process(attachment_id=attachment.id)
    attachment.refresh_from_db()
    assert attachment.status == Attachment.Status.FAILED and attachment.failure_kind == "bug"
    assert "internal error" in attachment.reject_reason and "KeyError" in attachment.reject_reason
