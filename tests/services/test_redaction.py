"""What the model gets of a ticket with redaction on: placeholders in the text, covered images,
rebuilt storyboards, no video when a frame had something to cover; and the everywhere mode."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.factories import AttachmentFactory, RenditionFactory, png_bytes
from triage.models import InboundEmail, Rendition, RenditionText, Ticket
from triage.services import triage
from triage.services.redaction import TicketRedaction, report_lines

pytestmark = pytest.mark.django_db

EMAIL = "anna.schmidt@example.de"
LINE = {"text": f"Contact: {EMAIL}", "score": 0.99, "box": [20, 40, 300, 60]}


def _ticket(**kw) -> Ticket:
    defaults = {
        "subject": f"Karte 4242 4242 4242 4242 doppelt belastet, {EMAIL}",
        "description": f"Bitte an {EMAIL} antworten. IBAN DE89 3704 0044 0532 0130 00.",
        "requester_email": EMAIL,
        "language": "de",
        "status": Ticket.Status.TRIAGING,
    }
    return Ticket.objects.create(**{**defaults, **kw})


def _white(width: int = 400, height: int = 100) -> bytes:
    return png_bytes(width, height, (255, 255, 255))


def _read(rendition: Rendition, lines: list[dict] | None = None) -> Rendition:
    RenditionText.objects.create(
        rendition=rendition, text="\n".join(x["text"] for x in lines or []), lines=lines or [], engine="t"
    )
    return rendition


def test_text_goes_as_placeholders_the_same_value_the_same_one():
    ticket = _ticket()
    redaction = TicketRedaction(language="de")
    built = triage.ticket_input_build(ticket=ticket, redaction=redaction)
    assert built.subject == "Karte [card ••••4242] doppelt belastet, [email 1]"
    assert built.requester == "[email 1]"
    assert "[email 1]" in built.body and "[iban 1]" in built.body and EMAIL not in built.body
    assert redaction.report()["text"] == {"card": 1, "email": 3, "iban": 1}
    assert report_lines(redaction.report()) == ["3 emails, 1 card number, 1 IBAN in the text"]


def test_a_follow_up_in_the_thread_is_redacted_too():
    ticket = _ticket(channel=Ticket.Channel.EMAIL)
    InboundEmail.objects.create(
        ticket=ticket,
        status=InboundEmail.Status.THREADED,
        from_email=EMAIL,
        body_text="Meine Nummer: +49 151 23456789",
        message_id="<m1@example.de>",
        size_bytes=100,
    )
    built = triage.ticket_input_build(ticket=ticket, redaction=TicketRedaction(language="de"))
    assert "+49 151" not in built.body and "[phone 1]" in built.body and EMAIL not in built.body


def test_a_screenshot_goes_with_the_finding_covered_and_the_stored_file_unchanged():
    ticket = _ticket()
    shot = AttachmentFactory(ticket=ticket, original_name="pay.png")
    rendition = _read(RenditionFactory(attachment=shot, content=_white(), width=400, height=100), [LINE])
    redaction = TicketRedaction(language="de")
    built = triage.ticket_input_build(ticket=ticket, redaction=redaction)
    (image,) = built.images
    sent = Image.open(io.BytesIO(image.data)).convert("RGB")
    assert sent.getpixel((200, 50)) == (0, 0, 0)  # over the address
    assert sent.getpixel((30, 50)) == (255, 255, 255)  # "Contact:" stays
    with rendition.file.open("rb") as fh:
        assert fh.read() == _white()
    (item,) = redaction.report()["media"]
    assert item["label"] == "screenshot 'pay.png'" and item["counts"] == {"email": 1}
    assert "1 email in screenshot 'pay.png' at (" in report_lines(redaction.report())[1]
    # without redaction (the offline model) the same image goes as stored
    assert triage.ticket_input_build(ticket=ticket).images[0].data == _white()


def test_an_image_never_read_goes_blank():
    ticket = _ticket()
    shot = AttachmentFactory(ticket=ticket, original_name="x.png")
    RenditionFactory(attachment=shot, content=png_bytes(40, 20, (10, 200, 10)), width=40, height=20)
    (image,) = triage.ticket_input_build(ticket=ticket, redaction=TicketRedaction()).images
    assert Image.open(io.BytesIO(image.data)).convert("RGB").getextrema() == ((0, 0), (0, 0), (0, 0))


def _recording(ticket: Ticket, *, representation: str, covered_frame: bool) -> None:
    video = AttachmentFactory(
        ticket=ticket, video=True, original_name="bug.mov", metadata={"representation": representation}
    )
    for i in range(2):
        frame = RenditionFactory(
            attachment=video,
            kind=Rendition.Kind.FRAME,
            index=i,
            timestamp_ms=i * 1000,
            content=png_bytes(400, 100, (255, 255, 255 - i)),
            width=400,
            height=100,
        )
        _read(frame, [LINE] if covered_frame and i == 1 else [{"text": "OK", "box": [0, 0, 10, 10]}])
    RenditionFactory(attachment=video, kind=Rendition.Kind.STORYBOARD, content=b"sheet", mime="image/jpeg")
    RenditionFactory(attachment=video, kind=Rendition.Kind.MODEL_VIDEO, content=b"mp4!", mime="video/mp4")


def test_a_recording_with_something_to_cover_goes_as_covered_frames_not_as_video():
    ticket = _ticket()
    _recording(ticket, representation="native-video", covered_frame=True)
    redaction = TicketRedaction()
    built = triage.ticket_input_build(ticket=ticket, accepts_video=True, redaction=redaction)
    assert built.videos == () and [i.kind for i in built.images] == ["frame", "frame"]
    assert Image.open(io.BytesIO(built.images[1].data)).convert("RGB").getpixel((200, 50)) == (0, 0, 0)
    assert redaction.report()["videos_as_frames"] == ["bug.mov"]
    assert "recording 'bug.mov' was sent to the model as redacted frames, not as video" in report_lines(
        redaction.report()
    )


def test_a_clean_recording_still_goes_as_video():
    ticket = _ticket()
    _recording(ticket, representation="native-video", covered_frame=False)
    built = triage.ticket_input_build(ticket=ticket, accepts_video=True, redaction=TicketRedaction())
    assert [v.data for v in built.videos] == [b"mp4!"]


def test_a_storyboard_is_rebuilt_from_the_covered_frames():
    ticket = _ticket()
    _recording(ticket, representation="storyboard", covered_frame=True)
    (sheet,) = triage.ticket_input_build(ticket=ticket, redaction=TicketRedaction()).images
    assert sheet.data != b"sheet" and sheet.mime == "image/jpeg"
    assert Image.open(io.BytesIO(sheet.data)).size[0] > 400  # two tiles side by side


def test_ticket_triage_with_kimi_records_the_report_and_sends_placeholders(settings, kimi_fake, taxonomy):
    from tests.kimi_fake import BILLING_REPLY

    settings.TRIAGE_PROVIDER = "kimi"
    settings.KIMI_API_KEY = "sk-test"
    settings.KIMI_BASE_URL = kimi_fake.base_url
    settings.KIMI_MAX_RETRIES = 0
    settings.TRIAGE_REDACT = "model"
    kimi_fake.reply_json(BILLING_REPLY)
    ticket = _ticket()
    run = triage.ticket_triage(ticket_id=ticket.id)
    assert run.status == "DONE", run.error_message
    body = str(kimi_fake.requests)
    assert EMAIL not in body and "4242 4242 4242 4242" not in body and "[email 1]" in body
    assert run.details["redaction"]["text"]["email"] == 3

    settings.TRIAGE_REDACT = "off"
    ticket2 = _ticket()
    kimi_fake.reply_json(BILLING_REPLY)
    run2 = triage.ticket_triage(ticket_id=ticket2.id)
    assert EMAIL in str(kimi_fake.requests[-1]) and "redaction" not in run2.details
