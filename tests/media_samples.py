"""Sample media for tests, generated on the fly (Pillow, the bundled ffmpeg): nothing is downloaded.

Images are drawn to look like what we get (screenshots: flat UI and text; photos: gradients and
noise), videos are encoded the way real tools write each container, and the hostile files
(bombs, truncations, polyglots) are built byte by byte.
"""

from __future__ import annotations

import io
import random
import struct
import subprocess
import zlib
from pathlib import Path

from PIL import Image, ImageCms, ImageDraw

from triage.adapters.media.video import ffmpeg_exe

# ---------------------------------------------------------------- images


def screenshot_image(size: tuple[int, int] = (800, 600)) -> Image.Image:
    """Flat colours and text: a few hundred distinct colours, like a real UI screenshot."""
    width, height = size
    img = Image.new("RGB", size, (243, 244, 246))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, width, max(8, height // 12)), fill=(31, 41, 55))
    for i in range(max(1, height // 40)):
        y = height // 8 + i * 30
        draw.text((20, y), f"Line {i}: Payment failed with HTTP 500", fill=(17, 24, 39))
    draw.rectangle((width // 4, height // 3, width * 3 // 4, height * 2 // 3), outline=(220, 38, 38), width=3)
    return img


def photo_image(size: tuple[int, int] = (800, 600), *, seed: int = 1) -> Image.Image:
    """Gradients plus sensor-like noise: a distinct colour in most pixels, like a camera photo."""
    width, height = size
    gradient = Image.linear_gradient("L").resize(size)
    red = gradient
    green = gradient.transpose(Image.Transpose.ROTATE_90).resize(size)
    blue = Image.radial_gradient("L").resize(size)
    base = Image.merge("RGB", (red, green, blue))
    rng = random.Random(seed)
    noise = Image.frombytes("RGB", size, rng.randbytes(width * height * 3))
    return Image.blend(base, noise, 0.25)


def image_bytes(
    fmt: str, *, size: tuple[int, int] = (800, 600), mode: str = "RGB", photo: bool = False, **save_kw: object
) -> bytes:
    """`fmt` is a Pillow format name (PNG, JPEG, WEBP, GIF, BMP, TIFF...); content drawn for `mode`."""
    base = photo_image(size) if photo else screenshot_image(size)
    img = base.convert(mode) if mode not in ("P", "I;16") else _special_mode(base, mode)
    out = io.BytesIO()
    img.save(out, format=fmt, **save_kw)
    return out.getvalue()


def _special_mode(img: Image.Image, mode: str) -> Image.Image:
    if mode == "P":
        return img.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    # I;16: a 16-bit gradient spanning the full range, as medical/scientific PNGs have
    width, height = img.size
    values = [int(x * 65535 / max(1, width - 1)) for x in range(width)] * height
    out = Image.new("I;16", img.size)
    out.putdata(values)
    return out


def photo_jpeg(
    size: tuple[int, int] = (200, 100),
    *,
    exif_orientation: int | None = None,
    gps: bool = False,
    quality: int = 90,
) -> bytes:
    """A camera-like JPEG with EXIF (make, model, optional orientation and GPS position).

    The stored pixels have a red block in the top-left corner, so a test can see where the
    orientation put it.
    """
    img = photo_image(size)
    ImageDraw.Draw(img).rectangle((0, 0, size[0] // 4, size[1] // 4), fill=(255, 0, 0))
    exif = Image.Exif()
    exif[0x010F] = "Acme Phones"  # Make
    exif[0x0110] = "Model X"  # Model
    if exif_orientation is not None:
        exif[0x0112] = exif_orientation
    if gps:
        exif[0x8825] = {1: "N", 2: (52.0, 22.0, 12.5), 3: "E", 4: (4.0, 53.0, 30.0)}  # GPSInfo IFD
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=quality, exif=exif.tobytes())
    return out.getvalue()


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def cmyk_jpeg(size: tuple[int, int] = (300, 200), *, icc: bytes | None = None) -> bytes:
    img = photo_image(size).convert("CMYK")
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=90, **({"icc_profile": icc} if icc else {}))
    return out.getvalue()


def palette_png_with_transparency(size: tuple[int, int] = (320, 200)) -> bytes:
    """A palette PNG whose left half is a fully transparent palette entry."""
    img = screenshot_image(size).quantize(colors=31)  # entries 0..30 in use
    img.putpalette([*img.getpalette(), 255, 0, 255])  # entry 31: magenta, shown nowhere
    ImageDraw.Draw(img).rectangle((0, 0, size[0] // 2, size[1]), fill=31)
    out = io.BytesIO()
    img.save(out, format="PNG", transparency=31)
    return out.getvalue()


def la_png(size: tuple[int, int] = (320, 200)) -> bytes:
    gray = screenshot_image(size).convert("L")
    alpha = Image.linear_gradient("L").resize(size)
    out = io.BytesIO()
    Image.merge("LA", (gray, alpha)).save(out, format="PNG")
    return out.getvalue()


def animated(fmt: str, *, size: tuple[int, int] = (160, 120), frames: int = 4) -> bytes:
    """An animated GIF or WebP whose first frame is red and later ones blue."""
    colours = [(255, 0, 0)] + [(0, 0, 255)] * (frames - 1)
    images = [Image.new("RGB", size, colour) for colour in colours]
    out = io.BytesIO()
    images[0].save(out, format=fmt, save_all=True, append_images=images[1:], duration=100, loop=0)
    return out.getvalue()


def png_with_metadata(size: tuple[int, int] = (320, 200)) -> bytes:
    """A screenshot PNG carrying text chunks, EXIF and an ICC profile, all of which must go."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "jane@customer.example")
    info.add_itxt("Comment", "internal hostname db-7.prod")
    exif = Image.Exif()
    exif[0x010F] = "Acme"
    out = io.BytesIO()
    screenshot_image(size).save(out, format="PNG", pnginfo=info, exif=exif.tobytes(), icc_profile=srgb_icc())
    return out.getvalue()


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG that declares width x height 1-bit pixels in a few hundred bytes.

    Its IDAT is a short deflate stream of zeros: a decoder that trusts the header allocates
    gigabytes before noticing anything.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grayscale
    idat = zlib.compress(b"\x00" * 65536, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: max(1, int(len(data) * keep))]


# Files that lie about themselves: what a careless or hostile client uploads as "screenshot.png".
TEXT = b"Hello support,\nthe checkout page is broken again. Screenshot attached.\n" * 20
HTML = b"<!DOCTYPE html>\n<html><head><title>Checkout</title></head><body><img src=x></body></html>\n"
SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>\n'
PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(20) + b"logs/app.log" + bytes(64)
M3U8 = b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n"
# a GIF header followed by a script: image decoders must still refuse the body
POLYGLOT_GIF_JS = b"GIF89a/*\x00\x00\x00\x00*/=1;alert(document.domain);" + bytes(32)


# ---------------------------------------------------------------- videos

# container -> (file extension, muxer, video encoder args, audio encoder args, forced size).
# Each is what real tools write into that container; 3gp is H.263 at a CIF size because the h263
# encoder only accepts 128x96, 176x144, 352x288, 704x576 and 1408x1152.
VIDEO_CONTAINERS: dict[str, tuple[str, str, list[str], list[str], tuple[int, int] | None]] = {
    "mp4": ("mp4", "mp4", ["-c:v", "libx264", "-preset", "ultrafast"], ["-c:a", "aac"], None),
    "mov": ("mov", "mov", ["-c:v", "libx264", "-preset", "ultrafast"], ["-c:a", "aac"], None),
    "mpeg": ("mpg", "mpeg", ["-c:v", "mpeg2video"], ["-c:a", "mp2"], None),
    "ts": ("ts", "mpegts", ["-c:v", "libx264", "-preset", "ultrafast"], ["-c:a", "aac"], None),
    "avi": ("avi", "avi", ["-c:v", "mpeg4"], ["-c:a", "libmp3lame"], None),
    "flv": ("flv", "flv", ["-c:v", "flv"], ["-c:a", "libmp3lame"], None),
    "webm": (
        "webm",
        "webm",
        ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "400k"],
        ["-c:a", "libopus"],
        None,
    ),
    "mkv": ("mkv", "matroska", ["-c:v", "libx264", "-preset", "ultrafast"], ["-c:a", "aac"], None),
    "wmv": ("wmv", "asf", ["-c:v", "wmv2"], ["-c:a", "wmav2"], None),
    "3gp": (
        "3gp",
        "3gp",
        ["-c:v", "h263"],
        ["-c:a", "libopencore_amrnb", "-ar", "8000", "-ac", "1"],
        (176, 144),
    ),
}


def _ffmpeg(args: list[str], *, timeout_s: float = 60) -> bytes:
    result = subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        capture_output=True,
        timeout=timeout_s,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {result.stderr.decode(errors='replace')[-800:]}")
    return result.stdout


def video_file(
    tmp_dir: Path,
    container: str,
    *,
    seconds: float = 2.0,
    size: tuple[int, int] = (320, 240),
    fps: int = 10,
    rotate: int | None = None,
    audio: bool = True,
    audio_only: bool = False,
    name: str | None = None,
) -> Path:
    """A test pattern (testsrc2, moving) with a sine tone, encoded as `container` writes it.

    `rotate` sets display-rotation metadata (counter-clockwise degrees, like `-display_rotation`)
    by a stream copy, the way a phone stores portrait video: the pixels stay landscape.
    """
    ext, muxer, vcodec, acodec, forced = VIDEO_CONTAINERS[container]
    width, height = forced or size
    stem = (
        name
        or f"{container}-{seconds}s-{width}x{height}-r{rotate}-{'a' if audio else ''}{'o' if audio_only else ''}"
    )
    dst = tmp_dir / f"{stem}.{ext}"
    inputs: list[str] = []
    if not audio_only:
        inputs += ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}"]
    if audio or audio_only:
        inputs += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
    codecs = ([] if audio_only else [*vcodec, "-pix_fmt", "yuv420p", "-g", str(fps * 2)]) + (
        acodec if (audio or audio_only) else []
    )
    if rotate is None:
        _ffmpeg([*inputs, *codecs, "-f", muxer, str(dst)])
        return dst
    plain = tmp_dir / f"{stem}-unrotated.{ext}"
    _ffmpeg([*inputs, *codecs, "-f", muxer, str(plain)])
    _ffmpeg(["-display_rotation", str(rotate), "-i", str(plain), "-c", "copy", "-f", muxer, str(dst)])
    return dst


def timecoded_video(
    tmp_dir: Path,
    *,
    seconds: float = 60.0,
    fps: int = 5,
    gop_s: float = 10.0,
    size: tuple[int, int] = (320, 240),
) -> Path:
    """A black H.264 video with a white bar that moves right at a constant speed.

    The bar's x position in a frame tells the frame's time (see `bar_time`), so a test can check
    which moment a sampled frame comes from. Keyframes only every `gop_s` seconds: a seek has to
    decode forward from the previous keyframe to land on the right frame.
    """
    width, height = size
    dst = tmp_dir / f"timecoded-{seconds}s-{fps}fps.mp4"
    graph = (
        f"color=black:size={width}x{height}:rate={fps}:duration={seconds}[bg];"
        f"color=white:size=8x{height}:rate={fps}[bar];"
        f"[bg][bar]overlay=x='t*{width - 8}/{seconds}':shortest=1"
    )
    _ffmpeg(
        [
            "-f", "lavfi", "-i", graph,
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-g", str(int(gop_s * fps)), "-keyint_min", str(int(gop_s * fps)), "-sc_threshold", "0",
            str(dst),
        ]
    )  # fmt: skip
    return dst


def bar_time(jpeg: bytes, *, seconds: float, source_width: int = 320) -> float:
    """The time a `timecoded_video` frame shows, from the brightest column's position."""
    with Image.open(io.BytesIO(jpeg)) as img:
        gray = img.convert("L")
    width, height = gray.size
    row = gray.crop((0, height // 2, width, height // 2 + 1)).tobytes()
    lit = [x for x in range(width) if row[x] > 128] or [0]
    centre = sum(lit) / len(lit)
    bar = 8 * width / source_width  # the bar shrinks with the frame when the sampler downsizes it
    return max(0.0, (centre - bar / 2) / (width - bar) * seconds)


def mediarecorder_webm(tmp_dir: Path, *, seconds: float = 2.0, size: tuple[int, int] = (320, 240)) -> Path:
    """A webm written as a live stream, like a browser's MediaRecorder: no duration, no cues.

    The muxer cannot seek back to fill the duration into the header when it writes to a pipe.
    """
    width, height = size
    data = _ffmpeg(
        [
            "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=10:duration={seconds}",
            "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k",
            "-f", "webm", "pipe:1",
        ]
    )  # fmt: skip
    dst = tmp_dir / f"mediarecorder-{seconds}s.webm"
    dst.write_bytes(data)
    return dst


def slide_image(kind: str, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """Screens a recording cuts between: "page" (a UI page), "dialog" (the page under an error
    dialog), "list" (another page: rows of a table), "blank" (an empty screen)."""
    width, height = size
    if kind == "page":
        return screenshot_image(size)
    if kind == "dialog":
        img = screenshot_image(size)
        draw = ImageDraw.Draw(img)
        draw.rectangle((width // 8, height // 4, width * 7 // 8, height * 3 // 4), fill=(185, 28, 28))
        draw.rectangle((width // 4, height // 2, width * 3 // 4, height * 5 // 8), fill=(255, 255, 255))
        draw.text((width // 6, height * 5 // 16), "Error 500: payment failed", fill=(255, 255, 255))
        return img
    if kind == "list":
        img = Image.new("RGB", size, (255, 255, 255))
        draw = ImageDraw.Draw(img)
        draw.rectangle((0, 0, width // 5, height), fill=(30, 58, 138))
        for i, y in enumerate(range(10, height, 24)):
            fill = (209, 213, 219) if i % 2 else (156, 163, 175)
            draw.rectangle((width // 5 + 8, y, width - 8, y + 14), fill=fill)
        return img
    if kind == "blank":
        return Image.new("RGB", size, (243, 244, 246))
    raise ValueError(kind)


def slides_video(
    tmp_dir: Path,
    slides: list[tuple[float, Image.Image]],
    *,
    fps: int = 5,
    gop_s: float = 2.0,
    name: str = "slides",
) -> Path:
    """An H.264 screen recording that shows each image for its number of seconds, in order.

    The content changes only at the slide boundaries (known times), like a screen recording of
    someone clicking through pages: what a scene-aware sampler must find.
    """
    width, height = slides[0][1].size
    raw = b"".join(img.convert("RGB").tobytes() * round(seconds * fps) for seconds, img in slides)
    dst = tmp_dir / f"{name}.mp4"
    result = subprocess.run(
        [
            ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps), "-i", "pipe:0",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-g", str(int(gop_s * fps)), str(dst),
        ],
        input=raw,
        capture_output=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {result.stderr.decode(errors='replace')[-800:]}")
    return dst


# --- Added for BMP/HEIC, animation sampling and polyglots (append-only) ---


def heic_bytes(size: tuple[int, int] = (400, 300), *, photo: bool = True, exif_gps: bool = False) -> bytes:
    """A HEIC written by pillow-heif (libheif + x265 in its wheel), as an iPhone would send."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    img = photo_image(size) if photo else screenshot_image(size)
    extra: dict[str, bytes] = {}
    if exif_gps:
        exif = Image.Exif()
        exif[0x010F] = "Acme Phones"
        exif[0x8825] = {1: "N", 2: (52.0, 22.0, 12.5), 3: "E", 4: (4.0, 53.0, 30.0)}
        extra["exif"] = exif.tobytes()
    out = io.BytesIO()
    img.save(out, format="HEIF", quality=80, **extra)
    return out.getvalue()


def animation_with_durations(
    fmt: str, durations: list[int], *, size: tuple[int, int] = (160, 120), alpha: bool = False
) -> bytes:
    """One frame per duration (ms); frame i is filled with grey level 10*i (so a test can tell which).

    With alpha=True the frames are transparent except a centre block, to check the flattening.
    """
    frames = []
    for i in range(len(durations)):
        if alpha:
            img = Image.new("RGBA", size, (0, 0, 0, 0))
            ImageDraw.Draw(img).rectangle(
                (size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2), fill=(0, 0, 0, 255)
            )
        else:
            img = Image.new("RGB", size, (10 * i, 10 * i, 10 * i))
        frames.append(img)
    out = io.BytesIO()
    frames[0].save(
        out, format=fmt, save_all=True, append_images=frames[1:], duration=durations, loop=0, disposal=2
    )
    return out.getvalue()


def gif_with_broken_later_frame(frames: int = 4, *, size: tuple[int, int] = (64, 48)) -> bytes:
    """An animated GIF whose last frame's LZW data is cut short: the first frames decode fine."""
    data = animation_with_durations("GIF", [100] * frames, size=size)
    return data[:-12] + b"\x00\x3b"  # drop the tail of the last image's data, keep a trailer


def gif_with_oversized_frame(
    *, size: tuple[int, int] = (64, 48), frame_size: tuple[int, int] = (9000, 9000)
) -> bytes:
    """A two-frame GIF whose second frame's descriptor declares a huge tile outside the canvas."""
    data = animation_with_durations("GIF", [100, 100], size=size)
    # The last image descriptor (0x2C, x, y, w, h): rewrite its width and height.
    pos = data.rindex(b"\x2c\x00\x00\x00\x00")
    return data[: pos + 5] + struct.pack("<HH", *frame_size) + data[pos + 9 :]


def png_with_appended(trailer: bytes) -> bytes:
    """A real screenshot PNG with other bytes (ZIP, HTML) after IEND: a polyglot."""
    return image_bytes("PNG") + trailer


# HTML that mentions a PNG signature further in: sniff judges the start of the file.
HTML_WITH_PNG_LATER = HTML + b"<!--" + b"\x89PNG\r\n\x1a\n" + bytes(32) + b"-->\n"
