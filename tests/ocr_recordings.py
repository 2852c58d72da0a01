"""Screen recordings with known text at known moments, encoded for real (libx264, yuv420p), for the
incremental OCR tests and their tuning: what is on screen is declared once (`Scene`), drawn with
Pillow's bundled font, and piped to the ffmpeg of the imageio-ffmpeg wheel."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import ffmpeg
from PIL import Image, ImageDraw, ImageFont

from triage.adapters.media.video import ffmpeg_exe


@dataclass(frozen=True)
class Scene:
    """From `start_s` on (until the next scene), these lines are on screen."""

    start_s: float
    lines: tuple[str, ...]
    dialog: str | None = None  # an error dialog over the middle of the window
    # the ticking "hh:mm:ss.mmm" overlay at the bottom right (a paused player hides it)
    timestamp: bool = True


@dataclass(frozen=True)
class Recording:
    scenes: tuple[Scene, ...]
    seconds: float
    width: int = 960
    height: int = 540
    fps: int = 10
    crf: int = 28
    title: str = "Acme Sync - Settings"
    noise: bool = field(default=True)  # a textured desktop behind the window: what x264 finds hard

    def scene_at(self, t: float) -> Scene:
        return [scene for scene in self.scenes if scene.start_s <= t][-1]


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def draw_frame(rec: Recording, t: float) -> Image.Image:
    scene = rec.scene_at(t)
    w, h = rec.width, rec.height
    img = Image.new("RGB", (w, h), (236, 239, 243))
    draw = ImageDraw.Draw(img)
    if rec.noise:
        # a gradient strip and a checker pattern: detail the encoder has to spend bits on
        for x in range(0, w, 4):
            shade = 200 + (x * 40) // w
            draw.rectangle((x, h - 24, x + 3, h), fill=(shade, shade - 20, 180))
        for y in range(40, h - 40, 16):
            for x in range(w - 120, w - 24, 16):
                if (x // 16 + y // 16) % 2:
                    draw.rectangle((x, y, x + 7, y + 7), fill=(214, 219, 226))
    draw.rectangle((0, 0, w, 30), fill=(31, 41, 55))
    draw.text((16, 15), rec.title, fill=(243, 244, 246), font=_font(15), anchor="lm")
    y = 56
    for line in scene.lines:
        draw.text((28, y), line, fill=(17, 24, 39), font=_font(18))
        y += 34
    if scene.dialog:
        box = (w // 4, h // 3, w * 3 // 4, h * 3 // 5)
        draw.rectangle(box, fill=(255, 255, 255), outline=(220, 38, 38), width=2)
        draw.rectangle((box[0], box[1], box[2], box[1] + 28), fill=(220, 38, 38))
        draw.text((box[0] + 10, box[1] + 14), "Error", fill="white", font=_font(16), anchor="lm")
        draw.text((box[0] + 14, box[1] + 48), scene.dialog, fill=(127, 29, 29), font=_font(17))
    if scene.timestamp:
        ms = int(round(t * 1000))
        stamp = f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"
        # grey on the window's background, as players and recorders draw their timecode
        draw.text((w - 150, h - 60), stamp, fill=(107, 114, 128), font=_font(16))
    return img


def render(rec: Recording, dst: Path) -> Path:
    frames = ffmpeg.input(
        "pipe:0",
        f="rawvideo",
        pix_fmt="rgb24",
        s=f"{rec.width}x{rec.height}",
        r=rec.fps,
        protocol_whitelist="pipe",
    )
    output = ffmpeg.output(
        frames,
        f"file:{dst}",
        f="mp4",
        pix_fmt="yuv420p",
        g=rec.fps * 2,
        crf=rec.crf,
        **{"c:v": "libx264", "preset": "veryfast", "movflags": "+faststart"},
    )
    cmd = output.compile(cmd=[ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    for i in range(round(rec.seconds * rec.fps)):
        proc.stdin.write(draw_frame(rec, i / rec.fps).tobytes())
    _, stderr = proc.communicate(timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(stderr.decode(errors="replace")[:500])
    return dst


# A sync tool's settings page: a status line that changes twice, an error dialog, a paused stretch
# (no timecode: identical frames), and a timecode that ticks on every other frame.
SYNC_ERROR = Recording(
    seconds=8,
    scenes=(
        Scene(0.0, ("Account: ana.ops", "Status: connecting", "Last sync: never")),
        Scene(2.0, ("Account: ana.ops", "Status: syncing 12 files", "Last sync: never")),
        Scene(3.5, ("Account: ana.ops", "Status: failed", "Last sync: never"), dialog="Sync error E_TIMEOUT"),
        # paused: the player hides its timecode and nothing moves
        Scene(
            5.0,
            ("Account: ana.ops", "Status: failed", "Last sync: never"),
            dialog="Sync error E_TIMEOUT",
            timestamp=False,
        ),
        Scene(6.5, ("Account: ana.ops", "Status: retry in 30 s", "Last sync: never"), timestamp=False),
    ),
)


# An upload whose counter changes in the middle of a line while a timecode ticks on every frame (no
# two frames alike), then fails with an error line of its own.
UPLOAD_PROGRESS = Recording(
    seconds=6,
    title="Acme Drive - Upload",
    scenes=(
        Scene(0.0, ("Folder: Invoices 2026", "Uploading 3 of 12 files", "Speed: 2.1 MB/s")),
        Scene(2.0, ("Folder: Invoices 2026", "Uploading 7 of 12 files", "Speed: 2.1 MB/s")),
        Scene(
            4.0,
            (
                "Folder: Invoices 2026",
                "Uploading 7 of 12 files",
                "Speed: 0.0 MB/s",
                "Upload failed: E_QUOTA exceeded",
            ),
        ),
    ),
)
