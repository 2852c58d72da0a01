"""Making a request smaller, one step at a time, in a fixed order (pure functions over TicketInput).

When Kimi's estimate says a request is over the ticket's token budget or the context window, the
client drops, in this order, and records each step:
1. older quoted text (the notes the intake marked as quoted history; the first and the latest
   message of a thread are never in them),
2. a recording sent as video: replaced by its frames,
3. frames: every other frame of each recording, keeping its first and last,
4. image resolution: every image halved (long side), down to 512 px.
Each call to `shrink` applies the first step that still changes something, or returns None.
"""

from __future__ import annotations

import dataclasses
import io

from PIL import Image

from triage.adapters.llm.base import ImagePart, TicketInput

_MIN_SIDE = 512
QUOTED_PREFIX = "quoted:"  # TicketInput.notes entries holding older quoted thread text


def shrink(ticket: TicketInput) -> tuple[TicketInput, str] | None:
    """The next smaller version of `ticket` and what was dropped, or None when nothing is left."""
    for step in (_drop_quoted, _videos_to_frames, _thin_frames, _halve_images):
        smaller = step(ticket)
        if smaller is not None:
            return smaller
    return None


def _drop_quoted(ticket: TicketInput) -> tuple[TicketInput, str] | None:
    quoted = [n for n in ticket.notes if n.startswith(QUOTED_PREFIX)]
    if not quoted:
        return None
    kept = tuple(n for n in ticket.notes if not n.startswith(QUOTED_PREFIX))
    return dataclasses.replace(ticket, notes=kept), f"dropped {len(quoted)} older quoted message(s)"


def _videos_to_frames(ticket: TicketInput) -> tuple[TicketInput, str] | None:
    if not ticket.videos:
        return None
    frames = tuple(frame for video in ticket.videos for frame in video.frames)
    return (
        dataclasses.replace(ticket, videos=(), images=ticket.images + frames),
        f"sent {len(ticket.videos)} recording(s) as {len(frames)} frame(s) instead of video",
    )


def _thin_frames(ticket: TicketInput) -> tuple[TicketInput, str] | None:
    groups: dict[str, list[int]] = {}
    for i, image in enumerate(ticket.images):
        if image.kind == "frame":
            recording = image.label.split(" of ", 1)[-1]
            groups.setdefault(recording, []).append(i)
    drop = set()
    for indexes in groups.values():
        if len(indexes) > 2:
            middle = indexes[1:-1]
            drop.update(middle[::2])  # every other frame between the first and the last
    if not drop:
        return None
    kept = tuple(image for i, image in enumerate(ticket.images) if i not in drop)
    return dataclasses.replace(ticket, images=kept), f"dropped {len(drop)} frame(s)"


def _halve_images(ticket: TicketInput) -> tuple[TicketInput, str] | None:
    images, halved = [], 0
    for image in ticket.images:
        smaller = _halve(image)
        halved += smaller is not image
        images.append(smaller)
    if not halved:
        return None
    return dataclasses.replace(ticket, images=tuple(images)), f"halved the resolution of {halved} image(s)"


def _halve(image: ImagePart) -> ImagePart:
    try:
        with Image.open(io.BytesIO(image.data)) as img:
            if max(img.size) // 2 < _MIN_SIDE:
                return image
            target = (max(1, img.width // 2), max(1, img.height // 2))
            img.draft("RGB", target)
            small = img.convert("RGB")
            small.thumbnail(target, Image.Resampling.BICUBIC)
    except (OSError, ValueError, Image.DecompressionBombError):
        return image  # not an image we can read: leave it as it is
    out = io.BytesIO()
    small.save(out, format="JPEG", quality=85)
    return dataclasses.replace(image, data=out.getvalue(), mime="image/jpeg")
