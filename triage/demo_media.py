"""Synthetic screenshots and screen recordings for the demo data and the tests.

Nothing is downloaded: text uses Pillow's bundled font, video the ffmpeg from the imageio-ffmpeg wheel.
"""

from __future__ import annotations

import functools
import io
import subprocess
from pathlib import Path

import ffmpeg
from PIL import Image, ImageDraw, ImageFont

from triage.adapters.media.video import ffmpeg_exe


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow's bundled font (no download, no system fonts needed); parsed once per size
    return ImageFont.load_default(size=size)


def _window(width: int, height: int, title: str, lines: list[str]) -> Image.Image:
    img = Image.new("RGB", (width, height), (243, 244, 246))
    draw = ImageDraw.Draw(img)
    bar = max(28, height // 22)
    draw.rectangle((0, 0, width, bar), fill=(31, 41, 55))
    for i, colour in enumerate(((239, 68, 68), (245, 158, 11), (34, 197, 94))):
        cx = 16 + i * 22
        draw.ellipse((cx - 6, bar // 2 - 6, cx + 6, bar // 2 + 6), fill=colour)
    draw.text((90, bar // 2), title, fill=(243, 244, 246), font=_font(max(12, bar // 2)), anchor="lm")
    size = max(14, height // 40)
    y = bar + size * 2
    for line in lines:
        draw.text((size * 2, y), line, fill=(17, 24, 39), font=_font(size))
        y += int(size * 1.8)
    return img


def _dialog(img: Image.Image, message: str) -> None:
    draw = ImageDraw.Draw(img)
    w, h = img.size
    box = (w // 5, h // 3, w * 4 // 5, h * 3 // 5)
    draw.rectangle(box, fill=(255, 255, 255), outline=(220, 38, 38), width=max(2, w // 400))
    head = (box[0], box[1], box[2], box[1] + max(24, h // 20))
    draw.rectangle(head, fill=(220, 38, 38))
    size = max(12, h // 45)
    draw.text((head[0] + 12, (head[1] + head[3]) // 2), "Error", fill="white", font=_font(size), anchor="lm")
    font = _font(size)
    y = head[3] + size
    for line in _wrap(draw, message, font=font, width=box[2] - box[0] - 32):
        draw.text((box[0] + 16, y), line, fill=(127, 29, 29), font=font)
        y += int(size * 1.5)
    ok = (box[2] - 96, box[3] - 44, box[2] - 16, box[3] - 12)
    draw.rectangle(ok, fill=(220, 38, 38))
    draw.text(((ok[0] + ok[2]) // 2, (ok[1] + ok[3]) // 2), "OK", fill="white", font=font, anchor="mm")


def _wrap(
    draw: ImageDraw.ImageDraw, text: str, *, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int
) -> list[str]:
    """Greedy word wrap by measured width, so long error messages stay inside the dialog."""
    lines: list[str] = []
    for word in text.split():
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def render_screenshot(
    *, title: str, lines: list[str], width: int = 1440, height: int = 900, error_dialog: str | None = None
) -> bytes:
    """A PNG that looks like an application window, optionally with a red error dialog."""
    img = _window(width, height, title, lines)
    if error_dialog:
        _dialog(img, error_dialog)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


# container -> (muxer, encoder args). H.264 where the container allows it (what screen recorders
# write); webm can only hold VP8/VP9/AV1 (what a browser's MediaRecorder writes).
# container -> (muxer, encoder options)
_RECORDING_FORMATS: dict[str, tuple[str, dict[str, object]]] = {
    "mp4": ("mp4", {"c:v": "libx264", "preset": "ultrafast", "movflags": "+faststart"}),
    "mov": ("mov", {"c:v": "libx264", "preset": "ultrafast", "movflags": "+faststart"}),
    "mkv": ("matroska", {"c:v": "libx264", "preset": "ultrafast"}),
    "webm": ("webm", {"c:v": "libvpx", "deadline": "realtime", "cpu-used": 8, "b:v": "1M"}),
    "avi": ("avi", {"c:v": "mpeg4", "q:v": 5}),
}
_RECORDING_TIMEOUT_S = 60


def render_recording(
    dst: Path,
    *,
    seconds: float = 6,
    width: int = 1280,
    height: int = 720,
    fps: int = 10,
    error_text: str = "Something went wrong",
    container: str = "mp4",
) -> None:
    """A short screen recording: a cursor moves to a button, then an error dialog appears.

    Frames are drawn with Pillow and piped to ffmpeg as raw RGB (6 s of 1280x720 at 10 fps: ~0.6 s).
    `container` is one of mp4, mov, mkv, webm, avi.
    """
    if container not in _RECORDING_FORMATS:
        raise ValueError(f"unsupported container {container!r}; use one of {sorted(_RECORDING_FORMATS)}")
    muxer, codec = _RECORDING_FORMATS[container]
    width, height = width - width % 2, height - height % 2  # yuv420p needs even dimensions
    total = max(1, round(seconds * fps))
    window = _window(width, height, "Acme - Checkout", ["Cart: 1 item", "Total: 129.00 EUR", "[ Pay now ]"])
    # Drawn once: the dialog is the same on every frame after it appears.
    with_dialog = window.copy()
    _dialog(with_dialog, error_text)
    frames = ffmpeg.input(
        "pipe:0", f="rawvideo", pix_fmt="rgb24", s=f"{width}x{height}", r=fps, protocol_whitelist="pipe"
    )
    output = ffmpeg.output(frames, f"file:{dst}", f=muxer, pix_fmt="yuv420p", g=fps * 2, **codec)
    cmd = output.compile(cmd=[ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert proc.stdin is not None
        for i in range(total):
            progress = i / total
            frame = (with_dialog if progress >= 0.6 else window).copy()
            draw = ImageDraw.Draw(frame)
            # the cursor travels to the "Pay now" button during the first 60 %, then rests there
            x = int(width * (0.1 + 0.5 * min(1.0, progress * 1.6)))
            y = int(height * (0.2 + 0.3 * min(1.0, progress * 1.6)))
            draw.polygon([(x, y), (x + 14, y + 36), (x + 22, y + 22), (x + 36, y + 14)], fill=(0, 0, 0))
            draw.text((width - 140, height - 40), f"{i / fps:05.1f}s", fill=(107, 114, 128), font=_font(16))
            try:
                proc.stdin.write(frame.tobytes())
            except BrokenPipeError:
                break  # ffmpeg has exited; its stderr below says why
        # communicate() closes stdin (end of input) and bounds the wait for the encoder to finish
        _, stderr = proc.communicate(timeout=_RECORDING_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {stderr.decode(errors='replace')[:500]}")
