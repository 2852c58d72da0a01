"""OCR of renditions: a step after the media pipeline and before triage, on the media queue.

Idempotent by construction: a rendition with a RenditionText row is never read again, and the row
is unique per rendition. A failure to read one image is logged and stored as empty text: OCR
helps triage but never blocks a ticket.
"""

from __future__ import annotations

import functools
import logging

from django.core.files.storage import default_storage
from django.db import IntegrityError

from triage.adapters.ocr import OcrReader, RapidOcrReader
from triage.models import Attachment, Rendition, RenditionText

logger = logging.getLogger(__name__)


@functools.cache
def ocr_reader_get() -> OcrReader:
    return RapidOcrReader()  # one per process: the ONNX sessions take ~2 s and ~300 MB to load


def attachment_ocr(*, attachment_id: int, reader: OcrReader | None = None) -> int:
    """Read the text of every image rendition and frame of one attachment that has none yet.
    Returns how many renditions were read."""
    renditions = Rendition.objects.filter(
        attachment_id=attachment_id,
        attachment__status=Attachment.Status.DONE,
        kind__in=[Rendition.Kind.IMAGE, Rendition.Kind.FRAME],
        ocr__isnull=True,
    ).order_by("kind", "index")
    read = 0
    for rendition in renditions:
        # No transaction is open: OCR runs for about a second per image.
        reader = reader or ocr_reader_get()
        try:
            with default_storage.open(rendition.file.name, "rb") as fh:
                result = reader.read(fh.read())
            text, lines, elapsed = (
                result.text,
                [line.as_dict() for line in result.lines],
                result.elapsed_ms,
            )
        except Exception:  # a corrupt frame or an engine error: record no text, triage goes on
            logger.exception("OCR of rendition %s failed", rendition.id)
            text, lines, elapsed = "", [], 0
        try:
            RenditionText.objects.create(
                rendition=rendition, text=text, lines=lines, engine=reader.engine, elapsed_ms=elapsed
            )
        except IntegrityError:  # a redelivered job read it meanwhile
            continue
        read += 1
    return read


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
