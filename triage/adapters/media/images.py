"""Image normalization: orientation, colour, size and encoding chosen on purpose, metadata stripped.

One call decodes one upload into what we store and send to the model: a PNG for screenshots (text
stays sharp) or a JPEG for photos (a tenth of the bytes), at most `limits.max_pixels`, in sRGB,
upright, with nothing from the source's metadata (EXIF, GPS, XMP, ICC, text chunks) left in it.

Polyglots: a valid image with other bytes appended (a ZIP, HTML, a script) is accepted, because
only the decoded pixels are re-encoded and stored; the trailing bytes never reach storage, the
model or a browser. A file that merely contains an image signature later on fails sniff().
Animated GIF/WebP/APNG: normalize_image() keeps the first frame; sample_animation() samples them
like a short video (Kimi bills them as video).
"""

from __future__ import annotations

import functools
import io
import math
import os
import struct
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import cast

import numpy as np
from PIL import Image, ImageCms, UnidentifiedImageError

from triage.adapters.media import Frame, ImageLimits, MediaRejected, NormalizedImage, png_fast

_UNIDENTIFIED = "the file is not a PNG, JPEG, WebP, GIF, BMP or HEIC image"

# Nothing here is worth a task retry: a file that fails to decode fails the same way next time, and
# Pillow reports memory exhaustion as MemoryError only after the worker is already in trouble.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = ()

# Only the decoders for what sniff() accepts. Pillow would otherwise try every plugin it has (EPS
# runs Ghostscript, and rarely used parsers are where the bugs are) on a file that lied in its head.
# HEIF is iPhone photos (pillow-heif, registered on first use); BMP is old Windows captures.
# AVIF stays out on purpose although Pillow 13 decodes it: no phone or capture tool we see writes
# it, and each decoder we enable is more attack surface; sniff() rejects it with a readable reason.
_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "HEIF")
_ANIMATION_FORMATS = ("GIF", "WEBP", "PNG")  # PNG: APNG, which sniff() files under image/png
# Sources whose pixels are already lossy photos: always JPEG out, whatever the colour count.
_PHOTO_FORMATS = ("JPEG", "HEIF")
# Browsers show a GIF frame with no delay (or 0/10 ms) for 100 ms; timestamps follow what users saw.
_DEFAULT_FRAME_MS = 100
_EXIF_ORIENTATION = 0x0112
_ROTATED_ORIENTATIONS = {5, 6, 7, 8}  # the ones that swap width and height
# What ImageOps.exif_transpose() does for each EXIF orientation, without needing the EXIF block on
# the decoded image (the fast PNG path decodes into a new one).
_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# A photo has a distinct colour in most pixels; a screenshot (flat UI, anti-aliased text) has a
# few hundred colours in total. Measured on a nearest-neighbour sample: a 2880x1800 screenshot
# 0.1 %, the scikit-learn sample photos 54-64 %. The threshold sits far from both.
_PHOTO_COLOUR_SHARE = 0.25
_COLOUR_SAMPLE_PIXELS = 512 * 512
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
# Resizing runs in horizontal bands on this many threads (Pillow releases the GIL while it
# resamples); outputs shorter than two bands of _BAND_MIN_ROWS are not worth the hand-off.
_RESIZE_THREADS = min(2, os.cpu_count() or 1)
_BAND_MIN_ROWS = 256
# Pillow's reducing_gap: shrink by an integer factor with a box filter while the rest of the way
# is still more than this factor, then resample the rest.
_REDUCING_GAP = 2.0


def normalize_image(path: Path, *, limits: ImageLimits) -> NormalizedImage:
    """Decode, orient, convert to sRGB, downscale and re-encode one image. Raises MediaRejected."""
    if path.stat().st_size == 0:
        raise MediaRejected("the file is empty")
    _register_heif()
    try:
        with Image.open(path, formats=_FORMATS) as img:
            source_format = img.format or ""
            width, height = img.size
            _check_pixels(width, height, limits=limits)  # from the header, before any decoding
            raw_target = _target_size(width, height, limits=limits)
            if source_format == "JPEG":
                # Decode at 1/2, 1/4 or 1/8 scale straight from the DCT when that still covers the
                # target: 6000x4000 -> 1920 takes 170 ms instead of 351 ms (LIBRARY-NOTES).
                img.draft("RGB", raw_target)
            fast = None
            if source_format == "PNG" and not getattr(img, "is_animated", False):
                # the plain 8-bit screenshot: libpng decodes it into one numpy array (png_fast)
                fast = png_fast.decode(path, size=img.size, mode=img.mode)
            pixels = None
            if fast is None:
                orientation = img.getexif().get(_EXIF_ORIENTATION)
                img.load()  # animated GIF/WebP: the first frame only (frames are sampled elsewhere)
                decoded: Image.Image | None = img
            else:
                pixels, exif = fast
                if exif is None and "Raw profile type exif" in img.info:
                    orientation = img.getexif().get(_EXIF_ORIENTATION)  # ImageMagick's text chunk
                else:
                    orientation = _exif_from_png(exif).get(_EXIF_ORIENTATION) if exif else None
                # upright (nearly every screenshot): the pixels stay an array until they are small
                decoded = Image.fromarray(pixels) if orientation in range(2, 9) else None
            icc = img.info.get("icc_profile")
            converted = None
            if decoded is not None:
                # Orientation before colour work: exif_transpose needs the source's EXIF block. It
                # copies the image even when there is nothing to do (13 ms at 3000x2000): skip that.
                transpose = _ORIENTATION_TRANSPOSE.get(orientation) if isinstance(orientation, int) else None
                oriented = decoded.transpose(transpose) if transpose is not None else decoded
                converted = _to_standard_mode(oriented, icc=icc)
                del oriented, decoded
    except MediaRejected:
        raise
    except Image.DecompressionBombError:
        raise MediaRejected("the image declares more pixels than we accept (a decompression bomb?)") from None
    except UnidentifiedImageError:
        raise MediaRejected(_UNIDENTIFIED) from None
    except Exception as exc:  # Pillow raises OSError, ValueError, SyntaxError, struct.error,
        # EOFError, IndexError... depending on the plugin and the damage: policy, not type.
        raise MediaRejected(f"the image could not be decoded ({_short(exc, path=path)})") from None

    swapped = orientation in _ROTATED_ORIENTATIONS
    source_w, source_h = (height, width) if swapped else (width, height)  # as displayed
    target = _target_size(source_w, source_h, limits=limits)
    # Screenshots -> PNG, photos -> JPEG. A JPEG source is a photo (or was already degraded to one);
    # for PNG, GIF and WebP (lossless or not) the colour count decides: a lossy-WebP screenshot has
    # ~1 % distinct colours, a photo saved as PNG over 50 %. Judged on the source (a sample of its
    # own pixels), so a screenshot can go straight from the resize to the PNG encoder band by band.
    if converted is None:
        assert pixels is not None  # the fast PNG path, upright
        sample = png_fast.colour_sample(pixels, pixels_wanted=_COLOUR_SAMPLE_PIXELS)
        if not _looks_like_photo(sample) and png_fast.can_resize(pixels, target):
            small = png_fast.resize(pixels, target)
            if icc and small.ndim == 3:
                data = _png_encode(_to_srgb(Image.fromarray(small), icc=icc))
            else:
                data = _png_encode_array(small)
            return _png_result(data, target=target, source=(source_w, source_h))
        converted = Image.fromarray(pixels)  # a photo, or no resize: as any other image
        del pixels
    photo = source_format in _PHOTO_FORMATS or _looks_like_photo(converted)
    if not photo:
        # Each band is resized, colour-converted and deflated on its own thread (_png_write).
        srgb = icc if icc and converted.mode in ("RGB", "RGBA") else None
        data = _png_encode_resized(converted, target, icc=srgb)
        return _png_result(data, target=target, source=(source_w, source_h))
    if converted.size != target:
        # Never an upscale: target <= source by construction. Photos take BICUBIC (thumbnail()'s
        # filter; on a camera photo no one, model or person, tells it from LANCZOS, and it costs
        # two thirds); screenshots keep LANCZOS, the sharpest for text.
        converted = _resize(converted, target, resample=Image.Resampling.BICUBIC)
    if icc and converted.mode in ("RGB", "RGBA"):
        # After the resize: the colour transform then runs on the small image.
        converted = _to_srgb(converted, icc=icc)
    return _encode(converted, photo=True, source_size=(source_w, source_h))


def thumbnail(data: bytes, *, side: int) -> NormalizedImage:
    """A small JPEG for the UI from an image we made (a normalized image or a frame): longest side
    <= `side`, flattened on white. Never an upscale."""
    with Image.open(io.BytesIO(data), formats=_FORMATS) as img:
        img.draft("RGB", (side, side))
        source_size = img.size
        flat = _to_standard_mode(img, icc=None)
        if flat.mode == "RGBA":
            background = Image.new("RGB", flat.size, (255, 255, 255))
            background.paste(flat, mask=flat.getchannel("A"))
            flat = background
        flat = flat.convert("RGB")
        flat.thumbnail((side, side), Image.Resampling.BICUBIC, reducing_gap=2.0)
    out = io.BytesIO()
    flat.save(out, format="JPEG", quality=80)
    return NormalizedImage(
        data=out.getvalue(),
        mime="image/jpeg",
        extension="jpg",
        width=flat.width,
        height=flat.height,
        source_width=source_size[0],
        source_height=source_size[1],
    )


def is_animated(path: Path) -> bool:
    """True for a GIF, WebP or APNG with more than one frame (billed and sampled like a video).

    Reads headers only; a file Pillow cannot open is "not animated" and normalize_image() rejects it.
    """
    _register_heif()
    try:
        with Image.open(path, formats=_ANIMATION_FORMATS) as img:
            return bool(getattr(img, "is_animated", False))
    except Exception:  # policy: anything undecodable is judged (and rejected) by normalize_image
        return False


def sample_animation(
    path: Path, *, count: int, limits: ImageLimits, max_frames_scanned: int = 2000
) -> list[Frame]:
    """Up to `count` frames evenly spaced in time, each normalized like an image. Raises MediaRejected.

    Time comes from each frame's own duration (info["duration"], ms), so a GIF that holds one frame
    for 5 s and flicks through ten in 1 s is sampled by what a viewer saw, not by frame index.
    Frames are flattened on white (a frame is a moment of a video: transparency means nothing to
    the model, and the GIF's page background is usually white) and encoded like any image: PNG for
    screen recordings, JPEG when the frame looks like a photo. Nothing from the source's metadata
    is carried over (the same encoder as normalize_image).

    Two passes. The first collects every frame's duration: WebP from its ANMF chunk headers (no
    decoding); GIF and APNG by seeking, which for GIF composes, i.e. decodes, each frame in turn
    (Pillow's seek is sequential), so a hostile frame anywhere before the last one fails there.
    The second pass seeks to the wanted frames and stops after the last one. Any decoder error on
    any frame rejects the whole file (policy, not exception type).
    """
    if count < 1:
        return []
    if path.stat().st_size == 0:
        raise MediaRejected("the file is empty")
    try:
        with Image.open(path, formats=_ANIMATION_FORMATS) as img:
            _check_pixels(*img.size, limits=limits)
            # n_frames walks the frame headers without decoding pixels: cheap enough to bound first.
            n_frames = getattr(img, "n_frames", 1)
            if n_frames > max_frames_scanned:
                raise MediaRejected(
                    f"the animation has {n_frames} frames; at most {max_frames_scanned} are accepted"
                )
            durations: list[int | None] | None = None
            if img.format == "WEBP" and (webp := _webp_durations(path)) is not None:
                durations = list(webp)
            if durations is None or len(durations) != n_frames:
                durations = []
                for index in range(n_frames):
                    img.seek(index)
                    if img.format == "WEBP":
                        img.load()  # Pillow's WebP reader sets the duration only when decoding
                    _check_pixels(*img.size, limits=limits)  # a GIF frame may enlarge the canvas
                    durations.append(img.info.get("duration"))
            starts: list[int] = []
            elapsed = 0
            for duration in durations:
                starts.append(elapsed)
                elapsed += _frame_duration(duration)
            wanted = _evenly_spaced(starts, total_ms=elapsed, count=count)
            frames: list[Frame] = []
            for index in wanted:  # ascending: GIF seeks forward from where it is
                img.seek(index)
                img.load()
                _check_pixels(*img.size, limits=limits)
                frames.append(_frame(img, limits=limits, timestamp_ms=starts[index]))
            return frames
    except MediaRejected:
        raise
    except Image.DecompressionBombError:
        raise MediaRejected("the image declares more pixels than we accept (a decompression bomb?)") from None
    except UnidentifiedImageError:
        raise MediaRejected("the file is not a GIF, WebP or PNG animation") from None
    except Exception as exc:  # policy, as in normalize_image: any decoder error on any frame
        raise MediaRejected(f"the animation could not be decoded ({_short(exc, path=path)})") from None


def _webp_durations(path: Path) -> list[int] | None:
    """Frame durations from the ANMF chunk headers, without decoding (None if the RIFF is odd).

    Pillow's WebP reader only reports a frame's duration after decoding it; these headers are
    24 bytes per frame. The decoder still checks every frame we then sample.
    """
    durations: list[int] = []
    with path.open("rb") as fp:
        header = fp.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WEBP":
            return None
        while chunk := fp.read(8):
            if len(chunk) < 8:
                return None
            kind, size = chunk[:4], int.from_bytes(chunk[4:8], "little")
            if kind == b"ANMF":
                payload = fp.read(16)
                if len(payload) < 16:
                    return None
                durations.append(int.from_bytes(payload[12:15], "little"))
                fp.seek(size + (size & 1) - 16, io.SEEK_CUR)
            else:
                fp.seek(size + (size & 1), io.SEEK_CUR)
    return durations


def _frame_duration(value: object) -> int:
    if isinstance(value, (int, float)) and value > 10:
        return int(value)
    return _DEFAULT_FRAME_MS


def _evenly_spaced(starts: list[int], *, total_ms: int, count: int) -> list[int]:
    """Indexes of the frames showing at 0, total/count, 2*total/count ... (each frame once)."""
    wanted: list[int] = []
    index = 0
    for k in range(count):
        moment = total_ms * k / count
        while index + 1 < len(starts) and starts[index + 1] <= moment:
            index += 1
        if not wanted or wanted[-1] != index:
            wanted.append(index)
    return wanted


def _frame(img: Image.Image, *, limits: ImageLimits, timestamp_ms: int) -> Frame:
    rgba = img.convert("RGBA")
    flat = Image.new("RGB", rgba.size, (255, 255, 255))
    flat.paste(rgba, mask=rgba.getchannel("A"))
    target = _target_size(flat.width, flat.height, limits=limits)
    if flat.size != target:
        flat = _resize(flat, target, resample=Image.Resampling.LANCZOS)
    encoded = _encode(flat, photo=_looks_like_photo(flat), source_size=img.size)
    return Frame(
        data=encoded.data,
        mime=encoded.mime,
        extension=encoded.extension,
        width=encoded.width,
        height=encoded.height,
        timestamp_ms=timestamp_ms,
    )


def _exif_from_png(data: bytes) -> Image.Exif:
    exif = Image.Exif()
    try:
        exif.load(data)
    except Exception:  # policy, as Pillow's own getexif(): a broken block carries no orientation
        return Image.Exif()
    return exif


@functools.cache
def _register_heif() -> None:
    """Register pillow-heif's opener on first use, not at import: it loads libheif."""
    import pillow_heif

    pillow_heif.register_heif_opener()


def _check_pixels(width: int, height: int, *, limits: ImageLimits) -> None:
    # Pillow only warns between MAX_IMAGE_PIXELS and twice that; we refuse the warning zone too.
    ceiling = limits.max_source_pixels
    if Image.MAX_IMAGE_PIXELS:
        ceiling = min(ceiling, Image.MAX_IMAGE_PIXELS)
    if width <= 0 or height <= 0:
        raise MediaRejected("the image has no pixels")
    if width * height > ceiling:
        raise MediaRejected(
            f"the image is {width}x{height} pixels; at most {ceiling / 1_000_000:.0f} megapixels are "
            "accepted (is it a decompression bomb?)"
        )


def _target_size(width: int, height: int, *, limits: ImageLimits) -> tuple[int, int]:
    """The largest size within both limits with the same aspect ratio; never larger than the source."""
    scale = min(1.0, limits.max_side / max(width, height), math.sqrt(limits.max_pixels / (width * height)))
    if scale >= 1.0:
        return width, height
    w, h = max(1, math.floor(width * scale)), max(1, math.floor(height * scale))
    while w * h > limits.max_pixels and w > 1 and h > 1:  # float rounding at the exact boundary
        w, h = max(1, w - 1), max(1, round((w - 1) * height / width))
    return w, h


@functools.cache
def _resize_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=_RESIZE_THREADS, thread_name_prefix="resize")


def _resize(img: Image.Image, target: tuple[int, int], *, resample: Image.Resampling) -> Image.Image:
    """`img.resize(target, resample, reducing_gap=2.0)`, cut into horizontal bands resized on
    _RESIZE_THREADS threads.

    Each band is resized from a `box` of the source: Pillow reads the rows its filter needs on
    either side of the box, so the bands join without a seam and differ from one whole-image
    resize by at most one level of rounding. 3000x2000 -> 2194x1463 BICUBIC: 99 ms in one call,
    about half on two threads (bench/media.py).
    """
    source, edges = _band_plan(img, target)
    if len(edges) == 2:
        return source.resize(target, resample) if source.size != target else source
    out = Image.new(source.mode, target)
    parts = _resize_pool().map(
        lambda i: _resize_band(source, target, edges, i, resample), range(len(edges) - 1)
    )
    for top, part in zip(edges, parts, strict=False):
        out.paste(part, (0, top))
    return out


def _band_plan(img: Image.Image, target: tuple[int, int]) -> tuple[Image.Image, list[int]]:
    """(the source after the integer reduce() of reducing_gap, the bands' first rows in the
    target plus its height). One band when the image is too small to share or not L/RGB."""
    width, height = target
    factor_x = int(img.width / width / _REDUCING_GAP) or 1
    factor_y = int(img.height / height / _REDUCING_GAP) or 1
    if factor_x > 1 or factor_y > 1:
        img = img.reduce((factor_x, factor_y))
    bands = min(_RESIZE_THREADS, height // _BAND_MIN_ROWS)
    # RGBA is resized premultiplied and divided back by alpha, which magnifies a band's rounding
    # where alpha is low: transparent images (rare, small) take the single call.
    if bands < 2 or img.mode not in ("L", "RGB"):
        return img, [0, height]
    return img, [height * i // bands for i in range(bands + 1)]


def _resize_band(
    img: Image.Image, target: tuple[int, int], edges: list[int], i: int, resample: Image.Resampling
) -> Image.Image:
    width, height = target
    top, bottom = edges[i], edges[i + 1]
    if img.size == target:
        return img.crop((0, top, width, bottom)) if len(edges) > 2 else img
    scale_y = img.height / height
    return img.resize((width, bottom - top), resample, box=(0, top * scale_y, img.width, bottom * scale_y))


# --- PNG, written here rather than by Pillow ----------------------------------------------------
# Pillow's PNG encoder tries all five row filters on every row and deflates on one thread: 52 ms
# of the 188 ms a 3840x2160 screenshot took (bench/media.py). Screenshots are flat colours and
# text: with no filter, deflate level 3 takes 12 ms and gives 160 KB for that screenshot (Pillow at
# level 6: 163 KB; libvips at compression 6: 185 KB). Each band is deflated on its own thread
# into a raw stream ended by a full flush (byte-aligned, no final bit), so the streams concatenate
# into one valid zlib stream, as pigz does; the bands' Adler-32 checksums combine arithmetically.
_PNG_LEVEL = 3
_SCREENSHOT_RESAMPLE = Image.Resampling.BICUBIC
_PNG_COLOUR_TYPE = {"L": 0, "RGB": 2, "RGBA": 6}
_PNG_BYTES_PER_PIXEL = {"L": 1, "RGB": 3, "RGBA": 4}
_ADLER_BASE = 65521


def _png_encode_resized(img: Image.Image, target: tuple[int, int], *, icc: bytes | None) -> bytes:
    """PNG bytes of `img` resized to `target`, converted to sRGB when `icc` is given; each band
    resized, converted and deflated on one thread.

    BICUBIC, not LANCZOS: on the 3840x2160 screenshot of bench/media.py it is 51 dB (PSNR) from
    Pillow's LANCZOS, as close as libvips's own lanczos3 is (52 dB), for two thirds of the time
    (62 against 86 ms on one core); BILINEAR (44 dB) visibly softens small text."""
    source, edges = _band_plan(img, target)
    if len(edges) == 2 and source.size != target:
        # one resize (RGBA, or a small image), then bands only for the deflate
        source = source.resize(target, _SCREENSHOT_RESAMPLE)
        rows = target[1]
        count = max(1, min(_RESIZE_THREADS, rows // _BAND_MIN_ROWS))
        edges = [rows * i // count for i in range(count + 1)]

    def band(i: int) -> Image.Image:
        part = _resize_band(source, target, edges, i, _SCREENSHOT_RESAMPLE)
        return _to_srgb(part, icc=icc) if icc else part

    return _png_write(band, edges=edges, size=target, mode=source.mode)


def _png_result(data: bytes, *, target: tuple[int, int], source: tuple[int, int]) -> NormalizedImage:
    return NormalizedImage(
        data=data,
        mime="image/png",
        extension="png",
        width=target[0],
        height=target[1],
        source_width=source[0],
        source_height=source[1],
    )


def _png_encode(img: Image.Image) -> bytes:
    rows = img.height
    count = max(1, min(_RESIZE_THREADS, rows // _BAND_MIN_ROWS))
    edges = [rows * i // count for i in range(count + 1)]
    if count == 1:
        return _png_write(lambda i: img, edges=edges, size=img.size, mode=img.mode)
    return _png_write(
        lambda i: img.crop((0, edges[i], img.width, edges[i + 1])), edges=edges, size=img.size, mode=img.mode
    )


def _png_encode_array(pixels: np.ndarray) -> bytes:
    """_png_encode() of L (h x w) or RGB (h x w x 3) pixels, without a Pillow image in between."""
    rows = pixels.shape[0]
    count = max(1, min(_RESIZE_THREADS, rows // _BAND_MIN_ROWS))
    edges = [rows * i // count for i in range(count + 1)]
    mode = "L" if pixels.ndim == 2 else "RGB"
    size = (pixels.shape[1], rows)
    return _png_write(lambda i: pixels[edges[i] : edges[i + 1]], edges=edges, size=size, mode=mode)


def _png_write(
    band: Callable[[int], Image.Image | np.ndarray], *, edges: list[int], size: tuple[int, int], mode: str
) -> bytes:
    width, height = size
    row_bytes = width * _PNG_BYTES_PER_PIXEL[mode]
    last = len(edges) - 2

    def deflate(i: int) -> tuple[bytes, int, int]:
        part = band(i)
        band_rows = edges[i + 1] - edges[i]
        if isinstance(part, np.ndarray):
            if part.shape[:2] != (band_rows, width) or part.size != band_rows * row_bytes:
                raise ValueError(f"band {i} is {part.shape}")  # a bug, not bad input
            pixels = part.reshape(band_rows, row_bytes)
        elif part.mode != mode or part.size != (width, band_rows):
            raise ValueError(f"band {i} is {part.mode} {part.size}")  # a bug, not bad input
        else:
            pixels = np.frombuffer(part.tobytes(), dtype=np.uint8).reshape(band_rows, row_bytes)
        rows = np.empty((band_rows, row_bytes + 1), dtype=np.uint8)
        rows[:, 0] = 0  # filter type None on every row
        rows[:, 1:] = pixels
        raw = rows.data
        compressor = zlib.compressobj(_PNG_LEVEL, zlib.DEFLATED, -15)
        stream = compressor.compress(raw) + compressor.flush(
            zlib.Z_FINISH if i == last else zlib.Z_FULL_FLUSH
        )
        return stream, zlib.adler32(raw), rows.nbytes

    parts = list(_resize_pool().map(deflate, range(len(edges) - 1))) if last else [deflate(0)]
    checksum = parts[0][1]
    for _, adler, length in parts[1:]:
        checksum = _adler32_combine(checksum, adler, length)
    idat = b"\x78\x9c" + b"".join(stream for stream, _, _ in parts) + struct.pack(">I", checksum)
    header = struct.pack(">IIBBBBB", width, height, 8, _PNG_COLOUR_TYPE[mode], 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def _adler32_combine(first: int, second: int, second_length: int) -> int:
    """Adler-32 of A + B from those of A and B and the length of B (zlib's adler32_combine)."""
    rem = second_length % _ADLER_BASE
    sum1 = first & 0xFFFF
    sum2 = (rem * sum1) % _ADLER_BASE
    sum1 = (sum1 + (second & 0xFFFF) + _ADLER_BASE - 1) % _ADLER_BASE
    sum2 = (sum2 + ((first >> 16) & 0xFFFF) + ((second >> 16) & 0xFFFF) + _ADLER_BASE - rem) % _ADLER_BASE
    return sum1 | (sum2 << 16)


def _to_standard_mode(img: Image.Image, *, icc: bytes | None) -> Image.Image:
    """Bring any mode Pillow opens to L, RGB or RGBA; CMYK goes through its ICC profile."""
    mode = img.mode
    if mode in ("L", "RGB"):
        return img  # already standard: a convert() would only copy it (20 ms at 3000x2000)
    if mode == "CMYK":
        if icc and (converted := _icc_convert(img, icc=icc, output_mode="RGB")) is not None:
            return converted
        return img.convert("RGB")
    if mode.startswith("I;16"):
        # convert("L") clips 16-bit values to 255 (nearly all white); scale to 8 bits first.
        return img.point(lambda v: v * (1 / 256)).convert("L")
    if mode in ("I", "F"):
        # 32-bit integer or float samples have no fixed range: stretch what is there to 0..255.
        lo, hi = cast("tuple[float, float]", img.getextrema())  # one band: (min, max)
        span = (hi - lo) or 1
        return img.point(lambda v: (v - lo) * (255 / span)).convert("L")
    if mode in ("1", "L"):
        return img.convert("L")
    if mode in ("LA", "La", "PA", "RGBA", "RGBa") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        bands = cast("tuple[tuple[int, int], ...]", rgba.getextrema())  # (min, max) per band; 3 is alpha
        if bands[3][0] == 255:  # an alpha channel that hides nothing
            return rgba.convert("L" if mode in ("LA", "La") else "RGB")
        return rgba
    return img.convert("RGB")  # P, RGB, RGBX, YCbCr, LAB, HSV


def _icc_convert(img: Image.Image, *, icc: bytes, output_mode: str) -> Image.Image | None:
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.profileToProfile(img, source, _SRGB, outputMode=output_mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None  # a broken or mismatched profile: the plain conversion is the best we can do


def _to_srgb(img: Image.Image, *, icc: bytes) -> Image.Image:
    """Display P3 (Mac screenshots) or Adobe RGB pixels shown as sRGB look washed out: convert."""
    try:
        description = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc)))
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return img
    if "srgb" in description.lower():
        return img  # already sRGB: the transform would be an expensive identity
    return _icc_convert(img, icc=icc, output_mode=img.mode) or img


def _looks_like_photo(img: Image.Image) -> bool:
    step = max(1, math.isqrt(img.width * img.height // _COLOUR_SAMPLE_PIXELS))
    # NEAREST picks existing pixels: any filter that blends would invent colours of its own.
    sample = img.resize((max(1, img.width // step), max(1, img.height // step)), Image.Resampling.NEAREST)
    pixels = sample.width * sample.height
    return sample.getcolors(maxcolors=max(256, int(pixels * _PHOTO_COLOUR_SHARE))) is None


def _encode(img: Image.Image, *, photo: bool, source_size: tuple[int, int]) -> NormalizedImage:
    # PNG for screenshots: text and flat colours stay exact and compress well. JPEG for photos:
    # PNG would be 5-10x larger for no visible gain.
    if photo and img.mode == "RGBA":
        background = Image.new("RGB", img.size, (255, 255, 255))
        background.paste(img, mask=img.getchannel("A"))  # flatten on white: JPEG has no alpha
        img = background
    # Pillow copies `info` across convert() and reads icc_profile, exif, xmp... from it when saving:
    # empty it so the output carries nothing from the source.
    img.info = {}
    out = io.BytesIO()
    if not photo:
        out.write(_png_encode(img))
        mime, extension = "image/png", "png"
    else:
        img.save(out, format="JPEG", quality=85, optimize=False, progressive=False)
        mime, extension = "image/jpeg", "jpg"
    return NormalizedImage(
        data=out.getvalue(),
        mime=mime,
        extension=extension,
        width=img.width,
        height=img.height,
        source_width=source_size[0],
        source_height=source_size[1],
    )


def _short(exc: BaseException, *, path: Path) -> str:
    """The first line of the error without our storage path: "image file is truncated"."""
    text = str(exc).replace(str(path), "the file").strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:160]
