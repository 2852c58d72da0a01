"""The ticket page's recording helpers."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def recording_text(attachment) -> list[tuple[int, str]]:  # noqa: ANN001 - an Attachment
    """The text read from a recording's frames as one list: each line once, with the moment it
    first appears (frames repeat most of the screen from one to the next)."""
    seen: set[str] = set()
    lines: list[tuple[int, str]] = []
    frames = [r for r in attachment.renditions.all() if r.kind == "FRAME"]
    for frame in sorted(frames, key=lambda r: (r.timestamp_ms or 0, r.index)):
        ocr = getattr(frame, "ocr", None)
        for line in (ocr.text if ocr else "").splitlines():
            key = " ".join(line.split()).casefold()
            if key and key not in seen:
                seen.add(key)
                lines.append((frame.timestamp_ms or 0, " ".join(line.split())))
    return lines


@register.filter
def seconds(milliseconds: int | None) -> str:
    return f"{(milliseconds or 0) / 1000:.3f}"
