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
