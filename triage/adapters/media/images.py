"""Image normalization: orientation, colour, size and encoding chosen on purpose, metadata stripped."""

from __future__ import annotations

import io
import math
import warnings
from pathlib import Path

from PIL import Image, ImageCms, ImageOps

from triage.adapters.media import ImageLimits, MediaRejected, NormalizedImage

# Nothing here is worth a task retry: a file that fails to decode fails the same way next time.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = ()

_LOSSLESS_SOURCES = {"PNG", "GIF", "BMP"}
_SRGB = ImageCms.createProfile("sRGB")


def _target_size(width: int, height: int, limits: ImageLimits) -> tuple[int, int]:
    scale = min(1.0, limits.max_side / max(width, height), math.sqrt(limits.max_pixels / (width * height)))
    return max(1, int(width * scale)), max(1, int(height * scale))


def _to_rgb_family(img: Image.Image) -> Image.Image:
    """Bring any mode Pillow opens to RGB or RGBA, converting colour through the ICC profile."""
    icc = img.info.get("icc_profile")
    if img.mode == "CMYK" and icc:
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(img, src, _SRGB, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError):
            pass
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        # convert("L") would clip 16-bit values to white; scale to 8 bits first
        return img.point(lambda v: v / 256).convert("L").convert("RGB")
    if img.mode in ("I", "F"):
        lo, hi = img.getextrema()
        span = (hi - lo) or 1
        return img.point(lambda v: (v - lo) * 255 / span).convert("L").convert("RGB")
    if img.mode in ("P", "PA", "LA", "La", "RGBa") or (img.mode == "P" and "transparency" in img.info):
        return img.convert("RGBA")
    if img.mode == "RGBA":
        return img
    if icc and img.mode == "RGB":
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(img, src, _SRGB, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError):
            pass
    return img.convert("RGB")


def _has_alpha(img: Image.Image) -> bool:
    return img.mode == "RGBA" and img.getextrema()[3][0] < 255


def normalize_image(path: Path, *, limits: ImageLimits) -> NormalizedImage:
    """Decode, orient, convert to sRGB, downscale and re-encode one image. Raises MediaRejected."""
    if path.stat().st_size == 0:
        raise MediaRejected("the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                source_format = img.format or ""
                width, height = img.size
                if width * height > limits.max_source_pixels:
                    raise MediaRejected(
                        f"the image is {width}x{height} pixels; at most "
                        f"{limits.max_source_pixels // 1_000_000} megapixels are accepted"
                    )
                target = _target_size(width, height, limits)
                if source_format == "JPEG":
                    # decode at a reduced scale straight from the DCT: the fastest path for photos
                    img.draft("RGB", target)
                swapped = img.getexif().get(0x0112) in (5, 6, 7, 8)
                img.load()
                oriented = ImageOps.exif_transpose(img)
                converted = _to_rgb_family(oriented)
    except MediaRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaRejected("the image declares more pixels than we accept (decompression bomb)") from None
    except Exception as exc:  # Pillow raises OSError, ValueError, SyntaxError, struct.error... by file
        raise MediaRejected(
            f"the image could not be decoded ({type(exc).__name__}: {str(exc)[:120]})"
        ) from None

    source_w, source_h = (height, width) if swapped else (width, height)  # as displayed
    target_w, target_h = _target_size(source_w, source_h, limits)
    if converted.width > target_w or converted.height > target_h:
        converted.thumbnail((target_w, target_h), Image.Resampling.LANCZOS, reducing_gap=2.0)

    lossless = source_format in _LOSSLESS_SOURCES or (source_format == "WEBP" and _webp_lossless(path))
    out = io.BytesIO()
    if lossless or _has_alpha(converted):
        # screenshots: text and flat colours stay sharp; alpha is kept on purpose
        image = converted if _has_alpha(converted) else converted.convert("RGB")
        image.save(out, format="PNG", compress_level=6)
        mime, ext = "image/png", "png"
    else:
        image = converted.convert("RGB")
        image.save(out, format="JPEG", quality=85, optimize=False)
        mime, ext = "image/jpeg", "jpg"
    # A fresh save writes no EXIF, XMP, GPS or text chunks: nothing from the source is carried over.
    return NormalizedImage(
        data=out.getvalue(),
        mime=mime,
        extension=ext,
        width=image.width,
        height=image.height,
        source_width=source_w,
        source_height=source_h,
    )


def _webp_lossless(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(16)
    return head[12:16] == b"VP8L"
