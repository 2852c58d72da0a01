"""Attachment processing: sniff and store uploads, normalize images, sample video frames."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from triage.adapters.media import ImageLimits, MediaRejected, SniffResult
from triage.adapters.media import pipeline as media_pipeline
from triage.adapters.media import sniff as sniff_adapter
from triage.adapters.media import tokens as token_adapter
from triage.adapters.media.pipeline import MediaConfig
from triage.models import Attachment, Rendition, Ticket, UploadStage
from triage.services.storage import bytes_store, content_key, content_store, local_path, sha256_of_file

logger = logging.getLogger(__name__)

_SNIFF_BYTES = 8192


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
    # Stored again: a staged copy of these bytes is not abandoned. Before the store, so that a purge
    # holding the row (services/tickets.py upload_stage_purge) finishes first and the store then
    # finds the blob gone and writes it again.
    UploadStage.objects.filter(key=key).update(staged_at=timezone.now())
    fileobj.seek(0)
    return content_store(key=key, content=File(fileobj))


def media_config(*, token_budget: int | None = None) -> MediaConfig:
    """The pipeline's limits, read from settings at call time (tests change them per test).

    `token_budget`: what this attachment may cost (attachment_token_budget); the whole ticket's
    budget when not given (media_inspect looks at one file alone).
    """
    return MediaConfig(
        image_limits=ImageLimits(
            max_pixels=settings.TRIAGE_IMAGE_MAX_PIXELS,
            max_side=settings.TRIAGE_IMAGE_MAX_SIDE,
            max_source_pixels=settings.TRIAGE_SOURCE_MAX_PIXELS,
        ),
        frames=settings.TRIAGE_VIDEO_FRAMES,
        frame_max_side=settings.TRIAGE_FRAME_MAX_SIDE,
        ffmpeg_timeout_s=settings.TRIAGE_FFMPEG_TIMEOUT_S,
        video_max_duration_s=settings.TRIAGE_VIDEO_MAX_DURATION_S,
        frame_strategy=settings.TRIAGE_VIDEO_STRATEGY,
        media_token_budget=settings.TRIAGE_MEDIA_TOKEN_BUDGET if token_budget is None else token_budget,
        representation=settings.TRIAGE_VIDEO_REPRESENTATION,
        native_video=provider_takes_video(),
        native_max_height=settings.TRIAGE_NATIVE_VIDEO_MAX_HEIGHT,
        native_fps=settings.TRIAGE_NATIVE_VIDEO_FPS,
    )


def provider_takes_video() -> bool:
    """Kimi takes video parts; the offline model does not (and is what runs without a key)."""
    return settings.TRIAGE_PROVIDER == "kimi" and bool(settings.KIMI_API_KEY)


def attachment_token_budget(*, attachment: Attachment) -> int:
    """This attachment's share of the ticket's media token budget (TRIAGE_MEDIA_TOKEN_BUDGET).

    An image costs what it costs (~4.2K at most, it cannot be cut): it gets the whole budget. The
    recordings split what the ticket's images may take at most leave over, equally. Deterministic
    from the ticket's attachment kinds, so a redelivered job makes the same choice.
    """
    budget = settings.TRIAGE_MEDIA_TOKEN_BUDGET
    if attachment.kind == Attachment.Kind.IMAGE:
        return budget
    kinds = list(Attachment.objects.filter(ticket_id=attachment.ticket_id).values_list("kind", flat=True))
    return token_adapter.attachment_budget(
        ticket_budget=budget,
        kind="video",
        images=kinds.count(Attachment.Kind.IMAGE),
        videos=kinds.count(Attachment.Kind.VIDEO),
    )


def attachment_process(*, attachment_id: int) -> None:
    """Make the renditions of one attachment, then let the ticket move on if it was the last one.

    Idempotent: a finished attachment is skipped; renditions are written to content keys under a
    unique (attachment, kind, index) slot, so a redelivered job rewrites nothing twice. The same
    bytes already processed for another attachment are not processed again: its rows are copied.
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
            if not _renditions_reuse(attachment=attachment):
                _renditions_make(attachment=attachment)
        except Exception as exc:  # a bug or a resource failure: record it, never kill the ticket
            logger.exception("processing attachment %s failed", attachment.id)
            attachment_mark_failed(
                attachment_id=attachment.id,
                kind="bug",
                message=f"internal error while processing ({type(exc).__name__})",
            )
    if (
        settings.TRIAGE_OCR_ENABLED
        and Attachment.objects.filter(id=attachment.id, status=Attachment.Status.DONE).exists()
    ):
        from triage.tasks import attachment_ocr_task

        # OCR is its own step so the pipeline stays pure; it settles the ticket when it is done.
        attachment_ocr_task.delay_on_commit(attachment_id=attachment.id)
        return
    ticket_media_settle(ticket_id=attachment.ticket_id)


def _renditions_make(*, attachment: Attachment) -> None:
    sniffed = SniffResult(
        kind="image" if attachment.kind == Attachment.Kind.IMAGE else "video",
        mime=attachment.mime,
        extension=Path(attachment.file.name).suffix.lstrip("."),
    )
    # No transaction is open here: ffmpeg and Pillow run for seconds to minutes.
    with local_path(attachment.file.name) as path:
        config = media_config(token_budget=attachment_token_budget(attachment=attachment))
        result = media_pipeline.process_media(path, sniff=sniffed, config=config)
    if not result.accepted:
        if result.failure_kind == "bug":
            logger.error("processing attachment %s failed: %s", attachment.id, result.reason)
            message = result.reason.replace("internal error", "internal error while processing", 1)
        else:
            message = result.reason
        if result.probe is not None:  # what we know of a recording we refused is still worth showing
            Attachment.objects.filter(id=attachment.id).update(
                width=result.source_width,
                height=result.source_height,
                duration_s=result.duration_s,
                metadata={**attachment.metadata, **result.metadata()},
            )
        attachment_mark_failed(
            attachment_id=attachment.id, kind=result.failure_kind or "bug", message=message
        )
        return
    stored = [
        (out, *bytes_store(prefix="renditions", data=out.data or b"", extension=out.extension))
        for out in result.renditions
    ]
    with transaction.atomic():
        for out, key, sha in stored:
            Rendition.objects.update_or_create(
                attachment=attachment,
                kind=out.kind,
                index=out.index,
                defaults={
                    "file": key,
                    "sha256": sha,
                    "mime": out.mime,
                    "width": out.width,
                    "height": out.height,
                    "size_bytes": out.size_bytes,
                    "timestamp_ms": out.timestamp_ms,
                },
            )
        # A redelivered job that chose differently (fewer frames, another representation) leaves
        # no stale slots behind.
        slots = {(out.kind, out.index) for out in result.renditions}
        stale = [r.id for r in attachment.renditions.all() if (r.kind, r.index) not in slots]
        Rendition.objects.filter(id__in=stale).delete()
        Attachment.objects.filter(id=attachment.id).update(
            width=result.source_width,
            height=result.source_height,
            duration_s=result.duration_s,
            metadata={**attachment.metadata, **result.metadata()},
            status=Attachment.Status.DONE,
            processed_at=timezone.now(),
        )


def _renditions_reuse(*, attachment: Attachment) -> bool:
    """Copy the renditions of a finished attachment with the same bytes (same storage keys).

    The same screenshot attached to two tickets (or twice to one) is processed once. Returns False
    when there is nothing to copy.
    """
    source = (
        Attachment.objects.filter(sha256=attachment.sha256, status=Attachment.Status.DONE)
        .exclude(id=attachment.id)
        .filter(renditions__isnull=False)
        .order_by("id")
        .first()
    )
    if source is None:
        return False
    renditions = list(source.renditions.all())
    slots = {(r.kind, r.index) for r in renditions}
    with transaction.atomic():
        # a crashed earlier attempt may have left slots the source does not have
        stale = [r.id for r in attachment.renditions.all() if (r.kind, r.index) not in slots]
        Rendition.objects.filter(id__in=stale).delete()
        for rendition in renditions:
            Rendition.objects.update_or_create(
                attachment=attachment,
                kind=rendition.kind,
                index=rendition.index,
                defaults={
                    "file": rendition.file.name,
                    "sha256": rendition.sha256,
                    "mime": rendition.mime,
                    "width": rendition.width,
                    "height": rendition.height,
                    "size_bytes": rendition.size_bytes,
                    "timestamp_ms": rendition.timestamp_ms,
                },
            )
        Attachment.objects.filter(id=attachment.id).update(
            width=source.width,
            height=source.height,
            duration_s=source.duration_s,
            metadata={**attachment.metadata, **source.metadata, "reused_from": source.id},
            status=Attachment.Status.DONE,
            processed_at=timezone.now(),
        )
    return True


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
        if settings.TRIAGE_OCR_ENABLED and (
            Rendition.objects.filter(
                attachment__ticket_id=ticket_id,
                attachment__status=Attachment.Status.DONE,
                kind__in=[Rendition.Kind.IMAGE, Rendition.Kind.FRAME],
                ocr__isnull=True,
            ).exists()
        ):
            # another attachment's OCR is still reading: its own settle sends the ticket on (the
            # model must not see a screenshot before it was read, for redaction among others)
            return False
        # updated_at marks when triage was asked for: the sweep's TRIAGING requeue measures from it
        moved = Ticket.objects.filter(id=ticket_id, status=Ticket.Status.PROCESSING).update(
            status=Ticket.Status.TRIAGING, updated_at=timezone.now()
        )
        if moved:
            from triage.tasks import ticket_triage_task

            ticket_triage_task.delay_on_commit(ticket_id=ticket_id)
        return bool(moved)


def attachment_requeue_stale(*, stale: datetime, now: datetime, max_sweeps: int) -> tuple[int, int]:
    """Attachments QUEUED/PROCESSING since before `stale` (a worker killed, a message lost, the
    broker down when they were enqueued) are queued again: the job is idempotent. One requeued
    `max_sweeps` times already is failed with a reason, so a file that kills the worker every time
    does not loop for ever. A recent requeue's job is given its time. Returns (requeued, failed)."""
    from triage.tasks import attachment_process_task

    requeued = failed = 0
    stuck = (
        Attachment.objects.filter(
            status__in=[Attachment.Status.QUEUED, Attachment.Status.PROCESSING], created_at__lt=stale
        )
        .exclude(swept_at__gt=stale)
        .order_by("id")
        .only("id", "ticket_id", "sweeps")
    )
    for attachment in stuck[:500]:
        if attachment.sweeps >= max_sweeps:
            attachment_mark_failed(
                attachment_id=attachment.id,
                kind="bug",
                message=f"processing never finished, even after {attachment.sweeps} more tries",
            )
            ticket_media_settle(ticket_id=attachment.ticket_id)  # stamps updated_at: not requeued
            failed += 1
            continue
        Attachment.objects.filter(id=attachment.id).update(sweeps=attachment.sweeps + 1, swept_at=now)
        attachment_process_task.delay(attachment_id=attachment.id)
        requeued += 1
    return requeued, failed


def ticket_media_settle_stale(*, stale: datetime) -> int:
    """Tickets left in PROCESSING since before `stale` although no attachment is pending (the
    settling step's message was lost, or the broker was down when it was sent): settled now."""
    waiting = (
        Ticket.objects.filter(status=Ticket.Status.PROCESSING, updated_at__lt=stale)
        .exclude(attachments__status__in=[Attachment.Status.QUEUED, Attachment.Status.PROCESSING])
        .values_list("id", flat=True)[:500]
    )
    # settling stamps updated_at: the next sweep's TRIAGING requeue does not send it again
    return sum(ticket_media_settle(ticket_id=ticket_id) for ticket_id in waiting)
