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
        """The image with its findings covered (the same bytes when there is nothing to cover)."""
        covers = cover_boxes(lines or [], language=self.language)
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
        where = ", ".join(f"({b[0]}, {b[1]})" for b in (item.get("boxes") or [])[:4])
        lines.append(f"{counts_phrase(item.get('counts') or {})} in {item.get('label')} at {where}")
    for name in report.get("videos_as_frames") or []:
        lines.append(f"recording '{name}' was sent to the model as redacted frames, not as video")
    return lines


def frame_redacted(frame: Frame, data: bytes) -> Frame:
    return dataclasses.replace(frame, data=data)
