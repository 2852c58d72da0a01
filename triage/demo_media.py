"""Synthetic screenshots and screen recordings for the demo data and the tests (no downloads:
Pillow's bundled font, ffmpeg from the imageio-ffmpeg wheel)."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from triage.adapters.media.video import ffmpeg_exe


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
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
    draw.text((box[0] + 16, head[3] + size), message, fill=(127, 29, 29), font=_font(size))


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
    """A short screen recording: a cursor moves to a button, then an error dialog appears."""
    total = max(1, int(seconds * fps))
    base = _window(width, height, "Acme - Checkout", ["Cart: 1 item", "Total: 129.00 EUR", "[ Pay now ]"])
    cmd = [
        ffmpeg_exe(),
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{width}x{height}",
        "-r",
        str(fps),
        "-i",
        "pipe:0",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-g",
        str(fps * 2),
        "-f",
        container,
        str(dst),
    ]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    try:
        for i in range(total):
            frame = base.copy()
            draw = ImageDraw.Draw(frame)
            progress = i / total
            x = int(width * (0.1 + 0.5 * min(1.0, progress * 1.6)))
            y = int(height * (0.2 + 0.3 * min(1.0, progress * 1.6)))
            draw.polygon([(x, y), (x + 14, y + 36), (x + 22, y + 22), (x + 36, y + 14)], fill=(0, 0, 0))
            if progress >= 0.6:
                _dialog(frame, error_text)
            draw.text((width - 140, height - 40), f"{i / fps:05.1f}s", fill=(107, 114, 128), font=_font(16))
            proc.stdin.write(frame.tobytes())
        proc.stdin.close()
        proc.wait(timeout=60)
        stderr = proc.stderr.read() if proc.stderr else b""
    finally:
        if proc.poll() is None:
            proc.kill()
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {stderr.decode(errors='replace')[:500]}")
