"""Video probing, frame sampling and playback transcoding with ffmpeg (imageio-ffmpeg's static build).

Every call runs with a time limit, `-nostdin`, and a protocol whitelist of `file` (and `pipe` for
output), so a playlist or a crafted container cannot make ffmpeg read other files or the network.
"""

from __future__ import annotations

import functools
import io
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import ffmpeg
import imageio_ffmpeg
from PIL import Image

from triage.adapters.media import Frame, MediaRejected, PlaybackVideo, VideoProbe

# A failed decode fails again; only running out of processes/memory is worth a later retry.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (BlockingIOError, MemoryError)

_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
_INPUT = re.compile(r"Input #0, ([\w,]+), from")
_VIDEO = re.compile(r"Stream #0:\d+(?:\[\w+\])?(?:\(\w+\))?: Video: (\w+)[^\n]*?, (\d{2,5})x(\d{2,5})")
_ROTATION = re.compile(r"rotation of (-?\d+(?:\.\d+)?) degrees")
_PROGRESS_TIME = re.compile(r"out_time_us=(\d+)")


@functools.cache
def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def _run(args: list[str], *, timeout_s: float, what: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            [ffmpeg_exe(), "-nostdin", "-hide_banner", *args],
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise MediaRejected(f"{what} took longer than {timeout_s:.0f} s") from None


def _input(path: Path) -> list[str]:
    return ["-protocol_whitelist", "file", "-i", str(path)]


def _short_error(stderr: bytes) -> str:
    lines = [ln.strip() for ln in stderr.decode(errors="replace").splitlines() if ln.strip()]
    interesting = [ln for ln in lines if "rror" in ln or "invalid" in ln.lower() or "not found" in ln]
    return (interesting or lines or ["unknown error"])[-1][:160]


def probe_video(path: Path, *, timeout_s: float) -> VideoProbe:
    """Duration, displayed size, codec, rotation and container of a recording. Raises MediaRejected."""
    result = _run(_input(path), timeout_s=timeout_s, what="reading the recording")
    text = result.stderr.decode(errors="replace")
    if "Input #0" not in text:
        raise MediaRejected(f"could not read the recording: {_short_error(result.stderr)}")
    video = _VIDEO.search(text)
    if video is None:
        raise MediaRejected("the file has no video stream")
    codec, width, height = video.group(1), int(video.group(2)), int(video.group(3))
    rotation = 0
    if (rot := _ROTATION.search(text)) is not None:
        rotation = int(round(-float(rot.group(1)))) % 360
    if rotation in (90, 270):
        width, height = height, width
    duration = 0.0
    if (match := _DURATION.search(text)) is not None:
        h, m, s = match.groups()
        duration = int(h) * 3600 + int(m) * 60 + float(s)
    else:
        # MediaRecorder webm carries no duration in its header; a stream copy pass finds it (~40 ms)
        duration = _duration_by_copy(path, timeout_s=timeout_s)
    if duration <= 0:
        raise MediaRejected("the recording has no duration (empty or truncated)")
    container = (m.group(1) if (m := _INPUT.search(text)) else "unknown").split(",")[0]
    return VideoProbe(
        duration_s=duration, width=width, height=height, codec=codec, rotation=rotation, container=container
    )


def _duration_by_copy(path: Path, *, timeout_s: float) -> float:
    result = _run(
        [*_input(path), "-map", "0:v:0", "-c", "copy", "-f", "null", "-progress", "pipe:1", "-"],
        timeout_s=timeout_s,
        what="measuring the recording",
    )
    times = [int(t) for t in _PROGRESS_TIME.findall(result.stdout.decode(errors="replace"))]
    return max(times, default=0) / 1_000_000


def _scale_filter(max_side: int) -> str:
    # fit inside max_side x max_side, never upscale, keep the aspect ratio
    return f"scale='min({max_side},iw)':'min({max_side},ih)':force_original_aspect_ratio=decrease"


def _grab(path: Path, *, at_s: float, max_side: int, timeout_s: float) -> bytes:
    # -ss before -i: fast input seeking to the nearest keyframe, then decode only up to the frame
    result = _run(
        [
            "-ss",
            f"{at_s:.3f}",
            *_input(path),
            "-frames:v",
            "1",
            "-vf",
            _scale_filter(max_side),
            "-q:v",
            "3",
            "-f",
            "image2pipe",
            "-c:v",
            "mjpeg",
            "pipe:1",
        ],
        timeout_s=timeout_s,
        what="taking a frame from the recording",
    )
    return result.stdout if result.returncode == 0 else b""


def sample_frames(
    path: Path, *, probe: VideoProbe, count: int, max_side: int, timeout_s: float
) -> list[Frame]:
    """`count` frames evenly spaced over the duration. Cost grows with `count`, not with the length."""
    count = max(1, count)
    stamps = sorted({round((i + 0.5) * probe.duration_s / count, 3) for i in range(count)})
    with ThreadPoolExecutor(max_workers=2) as pool:
        grabbed = list(
            pool.map(lambda t: _grab(path, at_s=t, max_side=max_side, timeout_s=timeout_s), stamps)
        )
    frames: list[Frame] = []
    for at_s, data in zip(stamps, grabbed, strict=True):
        if not data:
            continue
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
        frames.append(
            Frame(
                data=data,
                mime="image/jpeg",
                extension="jpg",
                width=width,
                height=height,
                timestamp_ms=int(at_s * 1000),
            )
        )
    if not frames:
        # very short clips can yield nothing at a seek point: fall back to the first frame
        data = _grab(path, at_s=0.0, max_side=max_side, timeout_s=timeout_s)
        if data:
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
            frames.append(
                Frame(
                    data=data, mime="image/jpeg", extension="jpg", width=width, height=height, timestamp_ms=0
                )
            )
    return frames


def transcode_for_playback(src: Path, dst: Path, *, probe: VideoProbe, timeout_s: float) -> PlaybackVideo:
    """An H.264 MP4 any browser plays: longest side <= 1280, even dimensions, at most 30 fps."""
    side = 1280
    stream = ffmpeg.input(str(src), protocol_whitelist="file").video
    stream = stream.filter(
        "scale", f"min({side},iw)", f"min({side},ih)", force_original_aspect_ratio="decrease"
    )
    stream = stream.filter("scale", "trunc(iw/2)*2", "trunc(ih/2)*2").filter("fps", fps="min(30,source_fps)")
    args = (
        ffmpeg.output(
            stream,
            str(dst),
            vcodec="libx264",
            preset="veryfast",
            crf=28,
            pix_fmt="yuv420p",
            movflags="+faststart",
            an=None,
        )
        .overwrite_output()
        .get_args()
    )
    result = _run(args, timeout_s=timeout_s, what="converting the recording for playback")
    if result.returncode != 0 or not dst.exists() or dst.stat().st_size == 0:
        raise MediaRejected(f"could not convert the recording for playback: {_short_error(result.stderr)}")
    out = probe_video(dst, timeout_s=timeout_s)
    return PlaybackVideo(mime="video/mp4", width=out.width, height=out.height, size_bytes=dst.stat().st_size)
