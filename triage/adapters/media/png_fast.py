"""Faster decoding and downscaling for the common screenshot: an 8-bit, non-interlaced RGB or
grey PNG. Everything else (and anything odd about such a file) goes through Pillow as before.

Where the time went (3840x2160 screenshot, bench/media.py): Pillow's PNG decoder spends about
two thirds of its time in zlib's inflate, which copies the long repeats of a flat UI slowly;
libdeflate inflates the same stream ~20x faster. The row filters (Sub, Up, Paeth...) still need
compiled code, so the inflated rows are handed back to Pillow wrapped in *stored* deflate blocks
(no compression: inflate is a memcpy): the same bytes, the same filter checks, the same errors.

The resize is a Lanczos-3 low-pass at the source resolution followed by cubic interpolation
(OpenCV, both SIMD and threaded): 55 dB (PSNR) from Pillow's LANCZOS on that screenshot, against
51 dB for Pillow's BICUBIC, in about a third of the time.
"""

from __future__ import annotations

import functools
import io
import math
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# colour type -> (Pillow mode, bytes per pixel) at bit depth 8
_COLOUR_TYPES = {0: ("L", 1), 2: ("RGB", 3)}
# Above this the inflated rows and their stored copy (2 x 3 bytes a pixel) cost more memory than
# the time is worth; Pillow streams instead.
MAX_FAST_PIXELS = 25_000_000
# Below this scale the low-pass kernel grows past ~20 taps: Pillow's reduce() path is as quick.
MIN_FAST_SCALE = 0.3
_LANCZOS_LOBES = 3


def decode(path: Path, *, size: tuple[int, int], mode: str) -> tuple[np.ndarray, bytes | None] | None:
    """(the pixels, height x width (x 3), the eXIf chunk if any), or None when the file is not one
    this path takes (Pillow then decodes it the usual way and reports whatever is wrong with it).

    A numpy array rather than a Pillow image: Pillow keeps RGB in 4 bytes a pixel, and going
    there and back (Image.new, paste, tobytes) cost a third of the time. The eXIf chunk comes back
    because Pillow's PngImageFile.getexif() decodes the whole image to look for one after the
    pixels."""
    import deflate

    width, height = size
    if mode not in ("L", "RGB") or width * height > MAX_FAST_PIXELS:
        return None
    data = path.read_bytes()
    found = _idat(data, size=size, mode=mode)
    if found is None:
        return None
    idat, colour_type, bytes_per_pixel, exif = found
    expected = height * (width * bytes_per_pixel + 1)
    try:
        raw = deflate.zlib_decompress(idat, expected)
    except deflate.DeflateError:
        return None  # truncated or damaged: Pillow's own message says which
    if len(raw) != expected:
        return None
    stride = width * bytes_per_pixel + 1
    split = _independent_row(raw, stride=stride, height=height)
    header = (colour_type, mode, width)
    pixels = np.empty((height, width, bytes_per_pixel) if bytes_per_pixel > 1 else (height, width), np.uint8)
    view = memoryview(raw)

    def unfilter(part: tuple[int, int]) -> None:
        top, bottom = part
        img = _unfilter(view[top * stride : bottom * stride], header=header, rows=bottom - top)
        pixels[top:bottom] = np.asarray(img)

    if split is None:
        unfilter((0, height))
    else:
        # Two halves on two threads: the lower one starts at a row whose filter needs no row above.
        list(_pool().map(unfilter, [(0, split), (split, height)]))
    return pixels, exif


def _independent_row(raw: bytearray, *, stride: int, height: int) -> int | None:
    """The row nearest the middle, in its middle half, filtered with None or Sub (which read
    nothing from the row above), or None."""
    if height < 64:
        return None
    filters = np.frombuffer(raw, dtype=np.uint8)[::stride]
    candidates = np.flatnonzero(filters[height // 4 : 3 * height // 4] <= 1) + height // 4
    if not len(candidates):
        return None
    return int(candidates[np.argmin(np.abs(candidates - height // 2))])


def _unfilter(filtered: memoryview, *, header: tuple[int, str, int], rows: int) -> Image.Image:
    """Pillow undoes the row filters of `rows` rows wrapped as a PNG of stored deflate blocks."""
    import deflate

    colour_type, mode, width = header
    stored = deflate.zlib_compress(filtered, 0)
    ihdr = struct.pack(">IIBBBBB", width, rows, 8, colour_type, 0, 0, 0)
    png = b"".join([_SIGNATURE, *_chunk(b"IHDR", ihdr), *_chunk(b"IDAT", stored), *_chunk(b"IEND", b"")])
    del stored
    img = Image.open(io.BytesIO(png), formats=("PNG",))
    img.load()  # Pillow's errors (a bad filter byte...) propagate as they would have
    if img.mode != mode or img.size != (width, rows):
        raise ValueError(f"unexpected {img.mode} {img.size}")
    return img


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="png-decode")


def _idat(data: bytes, *, size: tuple[int, int], mode: str) -> tuple[bytes, int, int, bytes | None] | None:
    """(the concatenated IDAT payloads, colour type, bytes per pixel, eXIf) of a plain 8-bit PNG."""
    if not data.startswith(_SIGNATURE):
        return None
    pos, parts, colour_type, bytes_per_pixel = len(_SIGNATURE), [], -1, 0
    exif: bytes | None = None
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length:
            return None
        if kind == b"IHDR":
            if length != 13:
                return None
            width, height, depth, colour_type, _comp, _filter, interlace = struct.unpack(">IIBBBBB", body)
            known = _COLOUR_TYPES.get(colour_type)
            if (width, height) != size or depth != 8 or interlace or known is None or known[0] != mode:
                return None
            bytes_per_pixel = known[1]
        elif kind in (b"tRNS", b"acTL", b"fcTL", b"fdAT"):
            return None  # transparency or animation: Pillow's business
        elif kind == b"eXIf":
            exif = body
        elif kind == b"IDAT":
            if colour_type < 0:
                return None
            parts.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if not parts:
        return None
    return b"".join(parts), colour_type, bytes_per_pixel, exif


def _chunk(kind: bytes, data: bytes | bytearray) -> tuple[bytes, bytes | bytearray, bytes]:
    """(length + type, data, CRC): joined once with the rest, the 25 MB data is copied once."""
    import deflate  # its CRC-32 is many times zlib's on the stored stream

    crc = deflate.crc32(data, zlib.crc32(kind))
    return struct.pack(">I", len(data)) + kind, data, struct.pack(">I", crc)


def can_resize(pixels: np.ndarray, target: tuple[int, int]) -> bool:
    height, width = pixels.shape[:2]
    return MIN_FAST_SCALE <= min(target[0] / width, target[1] / height) < 1.0


def resize(pixels: np.ndarray, target: tuple[int, int]) -> np.ndarray:
    """Downscale L or RGB pixels: Lanczos-3 low-pass, then cubic interpolation."""
    import cv2

    height, width = pixels.shape[:2]
    kx = _lanczos_kernel(target[0] / width)
    ky = _lanczos_kernel(target[1] / height)
    filtered = cv2.sepFilter2D(pixels, -1, kx, ky, borderType=cv2.BORDER_REPLICATE)
    return cv2.resize(filtered, target, interpolation=cv2.INTER_CUBIC)


def colour_sample(pixels: np.ndarray, *, pixels_wanted: int) -> Image.Image:
    """Every n-th pixel of every n-th row, about `pixels_wanted` of them (what a NEAREST resize
    picks), as a small image for the photo-or-screenshot test."""
    height, width = pixels.shape[:2]
    step = max(1, math.isqrt(width * height // pixels_wanted))
    return Image.fromarray(np.ascontiguousarray(pixels[::step, ::step]))


def _lanczos_kernel(scale: float) -> np.ndarray:
    radius = math.ceil(_LANCZOS_LOBES / scale)
    x = np.arange(-radius, radius + 1) * scale
    kernel = np.sinc(x) * np.sinc(x / _LANCZOS_LOBES) * (np.abs(x) < _LANCZOS_LOBES)
    return (kernel / kernel.sum()).astype(np.float32)
