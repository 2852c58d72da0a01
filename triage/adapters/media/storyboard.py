"""A storyboard: several video frames tiled in one image, each labelled with its moment.

One image instead of N costs the model fewer requests and keeps the order visible; the label
("00:01:23") is what lets its answer point at a moment the agent can jump to.
"""

from __future__ import annotations

import io
import math

from PIL import Image, ImageDraw, ImageFont

from triage.adapters.media import Frame
from triage.adapters.media.video import format_timestamp

_BACKGROUND = (17, 24, 39)  # between tiles and in empty cells: dark, unlike most UI screens
_GAP = 4  # px between tiles at full size, so two similar screens do not read as one
_LABEL_BOX = (0, 0, 0, 200)  # black, mostly opaque: readable over white and busy screens alike
_LABEL_TEXT = (255, 255, 255)
_JPEG_QUALITY = 85


def build_storyboard(frames: list[Frame], *, columns: int = 3, max_side: int = 1920) -> Frame:
    """`frames` in a grid of `columns` (fewer when there are fewer frames), left to right, top to
    bottom, each with its timestamp in a box in its top-left corner. JPEG, longest side <= max_side.
    The result's timestamp is the first frame's. Raises ValueError on an empty list.
    """
    if not frames:
        raise ValueError("a storyboard needs at least one frame")
    if columns < 1 or max_side < 1:
        raise ValueError("columns and max_side must be positive")
    cols = min(columns, len(frames))
    rows = math.ceil(len(frames) / cols)
    tile_w = max(frame.width for frame in frames)
    tile_h = max(frame.height for frame in frames)
    full_w, full_h = cols * tile_w + (cols - 1) * _GAP, rows * tile_h + (rows - 1) * _GAP
    scale = min(1.0, max_side / max(full_w, full_h))
    tile_w, tile_h = max(1, int(tile_w * scale)), max(1, int(tile_h * scale))
    gap = round(_GAP * scale)
    width, height = cols * tile_w + (cols - 1) * gap, rows * tile_h + (rows - 1) * gap

    sheet = Image.new("RGB", (width, height), _BACKGROUND)
    overlay = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    # about 1/12 of a tile's height, never below what a model (or a person) reads reliably
    font = ImageFont.load_default(size=max(12, tile_h // 12))
    pad = max(2, tile_h // 60)
    for n, frame in enumerate(frames):
        x0 = (n % cols) * (tile_w + gap)
        y0 = (n // cols) * (tile_h + gap)
        with Image.open(io.BytesIO(frame.data)) as img:
            tile = img.convert("RGB")
        tile.thumbnail((tile_w, tile_h), Image.Resampling.LANCZOS)
        # centred in its cell: frames of another size (a rotated clip) keep their aspect ratio
        sheet.paste(tile, (x0 + (tile_w - tile.width) // 2, y0 + (tile_h - tile.height) // 2))
        label = format_timestamp(frame.timestamp_ms)
        _, _, right, bottom = draw.textbbox((x0 + 2 * pad, y0 + 2 * pad), label, font=font)
        draw.rectangle((x0, y0, right + 2 * pad, bottom + 2 * pad), fill=_LABEL_BOX)
        draw.text((x0 + 2 * pad, y0 + 2 * pad), label, font=font, fill=_LABEL_TEXT)
    sheet = Image.alpha_composite(sheet.convert("RGBA"), overlay).convert("RGB")
    out = io.BytesIO()
    sheet.save(out, format="JPEG", quality=_JPEG_QUALITY)
    first = frames[0]
    return Frame(
        data=out.getvalue(),
        mime="image/jpeg",
        extension="jpg",
        width=width,
        height=height,
        timestamp_ms=first.timestamp_ms,
    )
