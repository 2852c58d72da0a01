"""Attachment processing: sniff and store uploads, normalize images, sample video frames."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from triage.adapters.media import ImageLimits, MediaRejected, SniffResult
from triage.adapters.media import images as image_adapter
from triage.adapters.media import sniff as sniff_adapter
from triage.adapters.media import video as video_adapter
from triage.models import Attachment, Rendition, Ticket
from triage.services.storage import bytes_store, content_key, content_store, local_path, sha256_of_file

logger = logging.getLogger(__name__)

_SNIFF_BYTES = 8192
# Browsers play these as they are; anything else gets an H.264 playback copy.
_BROWSER_PLAYABLE = {
    ("video/mp4", "h264"),
    ("video/webm", "vp8"),
    ("video/webm", "vp9"),
    ("video/webm", "av1"),
}


@dataclass(frozen=True)
class CheckedUpload:
    sniff: SniffResult
    sha256: str
    size_bytes: int
    name: str


def upload_check(*, fileobj: IO[bytes], name: str, size_bytes: int) -> CheckedUpload:
    """Decide what an upload is from its bytes and enforce the size limits. Raises MediaRejected."""
    if size_bytes == 0:
        raise MediaRejected("the file is empty")
    fileobj.seek(0)
    head = fileobj.read(_SNIFF_BYTES)
    fileobj.seek(0)
    sniffed = sniff_adapter.sniff(head)
    limit = settings.TRIAGE_MAX_IMAGE_BYTES if sniffed.kind == "image" else settings.TRIAGE_MAX_VIDEO_BYTES
    if size_bytes > limit:
        raise MediaRejected(
            f"{'screenshots' if sniffed.kind == 'image' else 'recordings'} may be at most "
            f"{limit // (1024 * 1024)} MB; this file is {size_bytes / (1024 * 1024):.1f} MB"
        )
    return CheckedUpload(sniff=sniffed, sha256=sha256_of_file(fileobj), size_bytes=size_bytes, name=name)


def original_store(*, fileobj: IO[bytes], checked: CheckedUpload) -> str:
    key = content_key(prefix="originals", sha256=checked.sha256, extension=checked.sniff.extension)
    fileobj.seek(0)
    return content_store(key=key, content=File(fileobj))


def attachment_process(*, attachment_id: int) -> None:
    """Make the renditions of one attachment, then let the ticket move on if it was the last one.

    Idempotent: a finished attachment is skipped; renditions are written to content keys under a
    unique (attachment, kind, index) slot, so a redelivered job rewrites nothing twice.
    """
    claimed = Attachment.objects.filter(
        id=attachment_id, status__in=[Attachment.Status.QUEUED, Attachment.Status.PROCESSING]
    ).update(status=Attachment.Status.PROCESSING)
    attachment = Attachment.objects.filter(id=attachment_id).first()
    if attachment is None:
        logger.warning("attachment %s no longer exists", attachment_id)
        return
    if claimed:
        try:
            with local_path(attachment.file.name) as path:
                if attachment.kind == Attachment.Kind.IMAGE:
                    _image_process(attachment=attachment, path=path)
                else:
                    _video_process(attachment=attachment, path=path)
        except MediaRejected as exc:
            attachment_mark_failed(attachment_id=attachment.id, kind="bad_input", message=exc.reason)
        except Exception as exc:  # a bug or a resource failure: record it, never kill the ticket
            logger.exception("processing attachment %s failed", attachment.id)
            attachment_mark_failed(
                attachment_id=attachment.id,
                kind="bug",
                message=f"internal error while processing ({type(exc).__name__})",
            )
        else:
            Attachment.objects.filter(id=attachment.id).update(
                status=Attachment.Status.DONE, processed_at=timezone.now()
            )
    ticket_media_settle(ticket_id=attachment.ticket_id)


def attachment_mark_failed(*, attachment_id: int, kind: str, message: str) -> None:
    status = Attachment.Status.REJECTED if kind == "bad_input" else Attachment.Status.FAILED
    Attachment.objects.filter(id=attachment_id).update(
        status=status, failure_kind=kind, reject_reason=message[:2000], processed_at=timezone.now()
    )


def ticket_media_settle(*, ticket_id: int) -> bool:
    """Send the ticket to triage once every attachment is done, rejected or failed.

    Runs in its own transaction after the attachment's status is committed: of two attachments
    finishing at once, at least the later one sees both finished, and the conditional update lets
    exactly one of them enqueue the triage.
    """
    with transaction.atomic():
        pending = (
            Attachment.objects.filter(ticket_id=ticket_id).exclude(status__in=Attachment.TERMINAL).exists()
        )
        if pending:
            return False
        moved = Ticket.objects.filter(id=ticket_id, status=Ticket.Status.PROCESSING).update(
            status=Ticket.Status.TRIAGING
        )
        if moved:
            from triage.tasks import ticket_triage_task

            ticket_triage_task.delay_on_commit(ticket_id=ticket_id)
        return bool(moved)


def _rendition_save(
    *,
    attachment: Attachment,
    kind: str,
    index: int,
    data: bytes,
    mime: str,
    extension: str,
    width: int,
    height: int,
    timestamp_ms: int | None = None,
) -> Rendition:
    key, sha = bytes_store(prefix="renditions", data=data, extension=extension)
    rendition, _ = Rendition.objects.update_or_create(
        attachment=attachment,
        kind=kind,
        index=index,
        defaults={
            "file": key,
            "sha256": sha,
            "mime": mime,
            "width": width,
            "height": height,
            "size_bytes": len(data),
            "timestamp_ms": timestamp_ms,
        },
    )
    return rendition


def _image_process(*, attachment: Attachment, path: Path) -> None:
    normalized = image_adapter.normalize_image(
        path,
        limits=ImageLimits(
            max_pixels=settings.TRIAGE_IMAGE_MAX_PIXELS,
            max_side=settings.TRIAGE_IMAGE_MAX_SIDE,
            max_source_pixels=settings.TRIAGE_SOURCE_MAX_PIXELS,
        ),
    )
    _rendition_save(
        attachment=attachment,
        kind=Rendition.Kind.IMAGE,
        index=0,
        data=normalized.data,
        mime=normalized.mime,
        extension=normalized.extension,
        width=normalized.width,
        height=normalized.height,
    )
    Attachment.objects.filter(id=attachment.id).update(
        width=normalized.source_width, height=normalized.source_height
    )


def _video_process(*, attachment: Attachment, path: Path) -> None:
    timeout = settings.TRIAGE_FFMPEG_TIMEOUT_S
    probe = video_adapter.probe_video(path, timeout_s=timeout)
    if probe.duration_s > settings.TRIAGE_VIDEO_MAX_DURATION_S:
        raise MediaRejected(
            f"recordings may be at most {settings.TRIAGE_VIDEO_MAX_DURATION_S // 60} minutes long; "
            f"this one is {probe.duration_s / 60:.1f} minutes"
        )
    Attachment.objects.filter(id=attachment.id).update(
        width=probe.width,
        height=probe.height,
        duration_s=probe.duration_s,
        metadata={"codec": probe.codec, "rotation": probe.rotation, "container": probe.container},
    )
    frames = video_adapter.sample_frames(
        path,
        probe=probe,
        count=settings.TRIAGE_VIDEO_FRAMES,
        max_side=settings.TRIAGE_FRAME_MAX_SIDE,
        timeout_s=timeout,
    )
    if not frames:
        raise MediaRejected("no frame could be read from the recording")
    for index, frame in enumerate(frames):
        _rendition_save(
            attachment=attachment,
            kind=Rendition.Kind.FRAME,
            index=index,
            data=frame.data,
            mime=frame.mime,
            extension=frame.extension,
            width=frame.width,
            height=frame.height,
            timestamp_ms=frame.timestamp_ms,
        )
    if (attachment.mime, probe.codec) not in _BROWSER_PLAYABLE or probe.rotation:
        with tempfile.TemporaryDirectory() as tmp:
            dst = Path(tmp) / "playback.mp4"
            playback = video_adapter.transcode_for_playback(path, dst, probe=probe, timeout_s=timeout * 5)
            _rendition_save(
                attachment=attachment,
                kind=Rendition.Kind.PLAYBACK,
                index=0,
                data=dst.read_bytes(),
                mime=playback.mime,
                extension="mp4",
                width=playback.width,
                height=playback.height,
            )
