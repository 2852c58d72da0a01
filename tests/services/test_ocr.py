from __future__ import annotations

import pytest

from tests.factories import AttachmentFactory, RenditionFactory, TicketFactory
from tests.screenshots import error_dialog_png
from triage.adapters.ocr import OcrLine, OcrResult
from triage.models import Attachment, Rendition, RenditionText, Ticket
from triage.services import ocr, triage

pytestmark = pytest.mark.django_db


class FakeReader:
    engine = "fake"

    def __init__(self, text: str = "ValueError: total must be a number") -> None:
        self.calls = 0
        self.text = text

    def read(self, image: bytes) -> OcrResult:
        self.calls += 1
        return OcrResult(
            lines=(OcrLine(text=self.text, score=0.9, box=(0, 0, 10, 10)),), engine="fake", elapsed_ms=1
        )


def test_ocr_reads_each_rendition_once(db):
    attachment = AttachmentFactory()
    RenditionFactory(attachment=attachment, index=0)
    RenditionFactory(attachment=attachment, kind=Rendition.Kind.FRAME, index=1, content=b"frame-bytes")
    RenditionFactory(attachment=attachment, kind=Rendition.Kind.PLAYBACK, index=0, content=b"mp4")
    reader = FakeReader()
    assert ocr.attachment_ocr(attachment_id=attachment.id, reader=reader) == 2
    assert ocr.attachment_ocr(attachment_id=attachment.id, reader=reader) == 0  # a redelivery reads nothing
    assert reader.calls == 2
    assert RenditionText.objects.filter(rendition__attachment=attachment).count() == 2


def test_an_unreadable_rendition_is_stored_empty_and_never_blocks(db):
    class Broken(FakeReader):
        def read(self, image: bytes) -> OcrResult:
            raise RuntimeError("engine crashed")

    rendition = RenditionFactory()
    assert ocr.attachment_ocr(attachment_id=rendition.attachment_id, reader=Broken()) == 1
    assert RenditionText.objects.get(rendition=rendition).text == ""


def test_ocr_text_reaches_both_providers_through_the_ticket_input(taxonomy):
    ticket = TicketFactory(subject="Save fails", description="See screenshot", status=Ticket.Status.TRIAGING)
    rendition = RenditionFactory(attachment=AttachmentFactory(ticket=ticket))
    ocr.attachment_ocr(attachment_id=rendition.attachment_id, reader=FakeReader())
    built = triage.ticket_input_build(ticket=ticket)
    assert built.ocr_text == "ValueError: total must be a number"

    from triage.adapters.llm.prompt import ticket_text

    assert "ValueError: total must be a number" in ticket_text(built)  # what Kimi reads
    run = triage.ticket_triage(ticket_id=ticket.id, provider="local")
    assert "ValueError: total must be a number" in run.result["summary"]  # quoted verbatim, not invented


def test_the_media_step_hands_over_to_ocr_which_settles_the_ticket(
    db, settings, django_capture_on_commit_callbacks, monkeypatch
):
    from triage import tasks
    from triage.services import media

    settings.TRIAGE_OCR_ENABLED = True
    attachment = AttachmentFactory(status=Attachment.Status.DONE)
    RenditionFactory(attachment=attachment)
    Ticket.objects.filter(id=attachment.ticket_id).update(status=Ticket.Status.PROCESSING)
    enqueued = []
    monkeypatch.setattr(tasks.attachment_ocr_task, "delay_on_commit", lambda **kw: enqueued.append(kw))
    media.attachment_process(attachment_id=attachment.id)
    assert enqueued == [{"attachment_id": attachment.id}]
    assert Ticket.objects.get(id=attachment.ticket_id).status == Ticket.Status.PROCESSING  # not before OCR

    monkeypatch.setattr(ocr, "ocr_reader_get", lambda: FakeReader())
    with django_capture_on_commit_callbacks() as callbacks:
        tasks.attachment_ocr_task.run(attachment_id=attachment.id)
    assert Ticket.objects.get(id=attachment.ticket_id).status == Ticket.Status.TRIAGING
    assert len(callbacks) == 1  # the triage task


def test_the_real_engine_reads_a_stored_screenshot(db):
    rendition = RenditionFactory(content=error_dialog_png(1280, 720), width=1280, height=720)
    ocr.attachment_ocr(attachment_id=rendition.attachment_id)
    text = RenditionText.objects.get(rendition=rendition).text
    assert "Error 500: Internal Server Error" in text.splitlines()


def _frame_png(stamp: str | None) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (320, 180), (240, 240, 240))
    ImageDraw.Draw(img).text((20, 20), "Sync error E_TIMEOUT", fill=(0, 0, 0))
    if stamp:
        ImageDraw.Draw(img).text((220, 150), stamp, fill=(0, 0, 0))
    import io

    buffer = io.BytesIO()
    img.save(buffer, "PNG")
    return buffer.getvalue()


def test_a_recordings_frames_are_read_only_where_they_changed(db, settings):
    """Frame 1 repeats frame 0 (reused, pointing at it); frame 2 adds a timecode at the bottom (that
    band read, frame 0's line carried over): two reads for three frames, every frame with its text."""
    settings.TRIAGE_OCR_CONCURRENCY = 2
    attachment = AttachmentFactory(status=Attachment.Status.DONE)
    frames = [
        RenditionFactory(
            attachment=attachment, kind=Rendition.Kind.FRAME, index=i, content=content, timestamp_ms=i * 1000
        )
        for i, content in enumerate([_frame_png(None), _frame_png(None), _frame_png("00:00:02")])
    ]
    reader = FakeReader()
    assert ocr.attachment_ocr(attachment_id=attachment.id, reader=reader) == 3
    assert reader.calls == 2
    rows = {row.rendition_id: row for row in RenditionText.objects.filter(rendition__attachment=attachment)}
    first, again, changed = (rows[f.id] for f in frames)
    assert (first.mode, first.source_id) == (RenditionText.Mode.FULL, None)
    assert (again.mode, again.source_id) == (RenditionText.Mode.REUSED, frames[0].id)
    assert again.lines == first.lines and again.elapsed_ms == 0
    assert (changed.mode, changed.source_id) == (RenditionText.Mode.REGION, frames[0].id)
    assert changed.lines[0] == first.lines[0] and len(changed.lines) == 2  # carried, plus the band's line
    assert changed.lines[1]["box"][1] > 100  # the band's line, moved to where the band is
