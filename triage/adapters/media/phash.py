"""A difference hash (dHash): near-identical pictures get hashes a few bits apart.

Screen recordings are mostly still: consecutive frames differ by a blinking cursor or JPEG noise,
which a byte comparison sees as different and a 64-bit dHash does not. It compares the brightness
of neighbouring cells of a 9x8 thumbnail, so it follows layout (text, dialogs, panels) and ignores
exposure and compression; a change of colour alone with the same layout does not move it.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

_HASH_SIZE = 8  # 8 x 8 comparisons: a 64-bit hash


def dhash(img_bytes: bytes) -> int:
    """A 64-bit dHash of an encoded image (any format Pillow opens)."""
    with Image.open(io.BytesIO(img_bytes)) as img:
        img.draft("L", (_HASH_SIZE * 4, _HASH_SIZE * 4))  # JPEG: decode at 1/8 scale, not full size
        small = img.convert("L").resize((_HASH_SIZE + 1, _HASH_SIZE), Image.Resampling.BOX)
    pixels = np.asarray(small, dtype=np.int16)
    bits = (pixels[:, 1:] > pixels[:, :-1]).flatten()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def hamming(a: int, b: int) -> int:
    """How many bits two hashes differ by."""
    return (a ^ b).bit_count()
