"""Real inputs the mutations start from: the recorded .eml fixtures and small real media files."""

from __future__ import annotations

import functools
import struct
import tempfile
import zlib
from pathlib import Path

from tests import media_samples as samples

EMAIL_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "email"


@functools.cache
def email_seeds() -> tuple[bytes, ...]:
    return tuple(p.read_bytes() for p in sorted(EMAIL_FIXTURES.glob("*.eml")))


@functools.cache
def image_seeds() -> tuple[bytes, ...]:
    size = (96, 64)
    return (
        samples.image_bytes("PNG", size=size),
        samples.photo_jpeg(size, exif_orientation=6),
        samples.image_bytes("GIF", size=size, mode="P"),
        samples.image_bytes("WEBP", size=size),
        samples.palette_png_with_transparency((64, 40)),
        samples.animated("GIF", size=(48, 32), frames=3),
    )


@functools.cache
def video_seeds() -> tuple[bytes, ...]:
    """One short MP4 (H.264) and one WebM (VP8), encoded by the bundled ffmpeg once per process."""
    folder = Path(tempfile.mkdtemp(prefix="hostile-seeds-"))
    return tuple(
        samples.video_file(folder, container, seconds=1.0, size=(96, 64), fps=5, audio=False).read_bytes()
        for container in ("mp4", "webm")
    )


def png_claiming_size(width: int, height: int) -> bytes:
    """A real 32x32 PNG whose IHDR claims another size (with a valid CRC: only the size lies)."""
    png = bytearray(samples.image_bytes("PNG", size=(32, 32)))
    ihdr = struct.pack(">II", width, height) + bytes(png[24:29])
    png[16:29] = ihdr
    png[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(png)
