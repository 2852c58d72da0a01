"""OCR of renditions: a step after the media pipeline and before triage, on the media queue.

Idempotent by construction: a rendition with a RenditionText row is never read again, and the row
is unique per rendition. A failure to read one image is logged and stored as empty text: OCR
helps triage but never blocks a ticket.
"""

from __future__ import annotations

import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError

from triage.adapters import ocr_frames
from triage.adapters.ocr import OcrReader, RapidOcrReader
from triage.models import Attachment, Rendition, RenditionText

logger = logging.getLogger(__name__)


@functools.cache
def ocr_reader_get() -> OcrReader:
    # one per process: the ONNX sessions take ~2 s and ~300 MB to load; its concurrent reads share it
    return RapidOcrReader(threads=settings.TRIAGE_OCR_THREADS_PER_READ)


@dataclass(frozen=True)
class _Read:
    text: str
    lines: list[dict]
    elapsed_ms: int
    mode: str = RenditionText.Mode.FULL
    source_id: int | None = None


def attachment_ocr(*, attachment_id: int, reader: OcrReader | None = None) -> int:
    """Read the text of every image rendition and frame of one attachment that has none yet.
    Returns how many renditions got their text.

    A recording's frames are read incrementally (ocr_frames.read_frames): a frame identical to the
    last read one reuses its text, one where only some bands changed has those bands read; the
    reads run on TRIAGE_OCR_CONCURRENCY threads. No transaction is open while reading (about a
    second per whole frame); the rows are written after.
    """
    renditions = list(
        Rendition.objects.filter(
            attachment_id=attachment_id,
            attachment__status=Attachment.Status.DONE,
            kind__in=[Rendition.Kind.IMAGE, Rendition.Kind.FRAME],
            ocr__isnull=True,
        ).order_by("kind", "index")
    )
    if not renditions:
        return 0
    reader = reader or ocr_reader_get()
    concurrency = settings.TRIAGE_OCR_CONCURRENCY
    data: dict[int, bytes] = {}
    for rendition in renditions:
        try:
            with default_storage.open(rendition.file.name, "rb") as fh:
                data[rendition.id] = fh.read()
        except OSError:  # a blob gone missing: that rendition is read as nothing (stored empty below)
            logger.exception("rendition %s could not be opened for OCR", rendition.id)
            data[rendition.id] = b""
    frames = [r for r in renditions if r.kind == Rendition.Kind.FRAME]  # by index: in time order
    reads: dict[int, _Read] = {}
    if len(frames) > 1:
        try:
            texts = ocr_frames.read_frames(
                [data[r.id] for r in frames], reader=reader, concurrency=concurrency
            )
        except Exception:  # a frame that does not decode: each frame is read (or fails) on its own below
            logger.exception("incremental OCR of attachment %s failed; reading each frame", attachment_id)
        else:
            for rendition, frame_text in zip(frames, texts, strict=True):
                reads[rendition.id] = _Read(
                    text=frame_text.result.text,
                    lines=[line.as_dict() for line in frame_text.result.lines],
                    elapsed_ms=0 if frame_text.mode == "reused" else frame_text.result.elapsed_ms,
                    mode=frame_text.mode.upper(),
                    source_id=None if frame_text.source is None else frames[frame_text.source].id,
                )
    alone = [r for r in renditions if r.id not in reads]

    def read_one(rendition: Rendition) -> _Read:
        try:
            result = reader.read(data[rendition.id])
        except Exception:  # a corrupt frame or an engine error: record no text, triage goes on
            logger.exception("OCR of rendition %s failed", rendition.id)
            return _Read(text="", lines=[], elapsed_ms=0)
        return _Read(
            text=result.text, lines=[line.as_dict() for line in result.lines], elapsed_ms=result.elapsed_ms
        )

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        reads.update(zip((r.id for r in alone), pool.map(read_one, alone), strict=True))
    stored = 0
    for rendition in renditions:
        read = reads[rendition.id]
        try:
            RenditionText.objects.create(
                rendition=rendition,
                text=read.text,
                lines=read.lines,
                engine=reader.engine,
                elapsed_ms=read.elapsed_ms,
                mode=read.mode,
                source_id=read.source_id,
            )
        except IntegrityError:  # a redelivered job read it meanwhile
            continue
        stored += 1
    return stored


def ticket_ocr_text(*, ticket_id: int) -> str:
    """The OCR text of every rendition of a ticket, in attachment and frame order."""
    texts = (
        RenditionText.objects.filter(rendition__attachment__ticket_id=ticket_id)
        .exclude(text="")
        .order_by("rendition__attachment_id", "rendition__kind", "rendition__index")
        .values_list("text", flat=True)
    )
    seen: list[str] = []
    for text in texts:
        if text not in seen:  # sampled frames of a static screen read the same text
            seen.append(text)
    return "\n".join(seen)
