"""Redaction of what a ticket shows an outside model (and, with TRIAGE_REDACT=everywhere, people
without the "view sensitive data" permission). The detectors are in adapters/pii.py.

`TicketRedaction` carries one Redactor for a ticket (one placeholder per value across subject,
body, thread, OCR text and tool results) and the report the ticket page shows: counts per kind
in the text and, per screenshot, frame or storyboard, what was covered and where.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from triage.adapters.media import Frame
from triage.adapters.pii import Cover, Redactor, counts_phrase, cover_boxes, paint_covers

SENSITIVE_PERMISSION = "triage.view_sensitive_data"


def redact_mode() -> str:
    return str(getattr(settings, "TRIAGE_REDACT", "off") or "off")


def redacts_for_model(*, provider: str) -> bool:
    """Whether what goes to `provider` is redacted: any provider but the offline one."""
    return provider != "local" and redact_mode() in ("model", "everywhere")


def redacts_for_user(user: Any) -> bool:
    """TRIAGE_REDACT=everywhere and the user may not see sensitive data."""
    if redact_mode() != "everywhere":
        return False
    return not (getattr(user, "is_authenticated", False) and user.has_perm(SENSITIVE_PERMISSION))


@dataclass
class TicketRedaction:
    language: str = ""
    redactor: Redactor = field(init=False)
    media: list[dict] = field(default_factory=list)  # [{"label", "counts", "boxes"}]
    videos_as_frames: list[str] = field(default_factory=list)  # recordings not sent as video

    def __post_init__(self) -> None:
        self.redactor = Redactor(language=self.language)

    def text(self, value: str) -> str:
        return self.redactor.redact(value)

    def image(self, data: bytes, *, mime: str, lines: list[dict] | None, label: str) -> tuple[bytes, bool]:
        """The image with its findings covered (the same bytes when there is nothing to cover).
        `lines` None: the image was never read, so nothing in it is known to be safe: it goes as a
        blank of its size (the report says it was withheld)."""
        if lines is None:
            covers = [Cover("unread", (0, 0, 100_000, 100_000))]
            self.media.append({"label": label, "counts": {}, "boxes": [], "withheld": True})
            return paint_covers(data, covers, mime=mime), True
        covers = cover_boxes(lines, language=self.language)
        if not covers:
            return data, False
        self._record(label, covers)
        return paint_covers(data, covers, mime=mime), True

    def _record(self, label: str, covers: list[Cover]) -> None:
        counts: dict[str, int] = {}
        for cover in covers:
            counts[cover.kind] = counts.get(cover.kind, 0) + 1
        self.media.append({"label": label, "counts": counts, "boxes": [list(c.box) for c in covers]})

    def report(self) -> dict:
        return {
            "text": dict(self.redactor.counts),
            "media": self.media,
            "videos_as_frames": self.videos_as_frames,
        }


def report_lines(report: dict | None) -> list[str]:
    """What the ticket page says: "2 emails, 1 card number in the text", "1 email in screenshot
    'pay.png' at (120, 340)", "recording 'x.mp4' was sent as redacted frames, not as video"."""
    if not report:
        return []
    lines = []
    if phrase := counts_phrase(report.get("text") or {}):
        lines.append(f"{phrase} in the text")
    for item in report.get("media") or []:
        if item.get("withheld"):
            lines.append(f"{item.get('label')} was not read by OCR yet: sent blank")
            continue
        where = ", ".join(f"({b[0]}, {b[1]})" for b in (item.get("boxes") or [])[:4])
        lines.append(f"{counts_phrase(item.get('counts') or {})} in {item.get('label')} at {where}")
    for name in report.get("videos_as_frames") or []:
        lines.append(f"recording '{name}' was sent to the model as redacted frames, not as video")
    return lines


def frame_redacted(frame: Frame, data: bytes) -> Frame:
    return dataclasses.replace(frame, data=data)


def rendition_covers(*, rendition_id: int, language: str = "") -> list[Cover]:
    from triage.models import RenditionText

    text = RenditionText.objects.filter(rendition_id=rendition_id).only("lines").first()
    return cover_boxes(text.lines or [], language=language) if text is not None else []


def attachment_has_findings(*, attachment_id: int, language: str = "") -> bool:
    """Whether any screenshot or frame of the attachment shows something to redact: its original,
    its video and its storyboards are then withheld from users who see the ticket redacted."""
    from triage.models import RenditionText

    lines = RenditionText.objects.filter(rendition__attachment_id=attachment_id).values_list(
        "lines", flat=True
    )
    return any(cover_boxes(value or [], language=language) for value in lines)


# what a page shows of a ticket and its conversation, attribute by attribute
_SHOWN_FIELDS = (
    "subject",
    "description",
    "requester_email",
    "summary",
    "body_text",
    "quoted_text",
    "body",
    "text",
    "from_email",
    "from_name",
    "to",
    "cc",
    "reply_to",
    "original_name",
)


def redact_for_display(objects: Any, redaction: TicketRedaction) -> None:
    """Replace, in memory only, what the page shows of each object (a ticket, its attachments and
    their OCR text, mails, notes) with the redacted text. Never saved: the rows keep the originals."""
    for obj in objects:
        if obj is None:
            continue
        for name in _SHOWN_FIELDS:
            value = getattr(obj, name, None)
            if isinstance(value, str) and value:
                try:
                    setattr(obj, name, redaction.text(value))
                except (AttributeError, TypeError):  # a read-only property
                    continue
            elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                setattr(obj, name, [redaction.text(v) for v in value])


def ticket_redact_for_display(ticket: Any, *, timeline: list | None = None) -> TicketRedaction:
    """The ticket page for a user who sees it redacted: the ticket, its attachments' names and OCR
    text, and each timeline entry's object."""
    redaction = TicketRedaction(language=getattr(ticket, "language", ""))
    objects: list[Any] = [ticket]
    for attachment in ticket.attachments.all():
        objects.append(attachment)
        for rendition in attachment.renditions.all():
            ocr = getattr(rendition, "ocr", None) if _has_ocr(rendition) else None
            objects.append(ocr)
    objects += [getattr(entry, "item", None) for entry in timeline or []]
    redact_for_display(objects, redaction)
    return redaction


def _has_ocr(rendition: Any) -> bool:
    try:
        return rendition.ocr is not None
    except Exception:  # RelatedObjectDoesNotExist
        return False


def ticket_placeholders_restore(ticket: Any, text: str) -> str:
    """The placeholders of a ticket's redacted page in `text` back to their values: the page
    numbered them in the order of the ticket's shown fields, and so does this."""
    redaction = TicketRedaction(language=getattr(ticket, "language", ""))
    for name in _SHOWN_FIELDS:
        value = getattr(ticket, name, None)
        if isinstance(value, str):
            redaction.text(value)
    return redaction.redactor.restore(text)


def redact_data(value: Any, redaction: TicketRedaction) -> Any:
    """Every string in a JSON-like value redacted (ids, dates, statuses and URLs have nothing to
    find, so they come back as they were)."""
    if isinstance(value, str):
        return redaction.text(value)
    if isinstance(value, dict):
        return {k: redact_data(v, redaction) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(v, redaction) for v in value]
    return value
