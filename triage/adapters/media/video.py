"""Video probing, frame sampling and transcoding (playback, model input) with ffmpeg (imageio-ffmpeg's build).

The build has no ffprobe, so probing parses `ffmpeg -i` output. Every command line is built with
ffmpeg-python (`_input(...)`, `ffmpeg.output(...)`, `_command`), and every ffmpeg process runs:
- through `_run`, with a wall-clock timeout (subprocess.run(timeout=...) kills it), reported as
  MediaRejected (ffmpeg-python's own run() has none);
- with `-nostdin`, so a stray read never blocks on the worker's stdin;
- with the demuxer forced from our own content sniff (`-f mov`, `-f matroska`, ...) and
  `-protocol_whitelist file` on a `file:` input, so a crafted upload cannot be opened as an HLS
  playlist, a concat script or an image sequence and make ffmpeg read other files or the network.
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import ffmpeg
import imageio_ffmpeg
import numpy as np
from PIL import Image

from triage.adapters.media import Frame, MediaRejected, PlaybackVideo, VideoProbe
from triage.adapters.media.phash import dhash, hamming
from triage.adapters.media.sniff import sniff

# A file that fails to decode fails the same way next time; only failing to start a process
# (EAGAIN from fork under load) or memory exhaustion can pass on a later attempt.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (BlockingIOError, MemoryError)

# SniffResult.extension -> the demuxer that reads it (ffmpeg matches any name of
# "mov,mp4,m4a,3gp,3g2,mj2" and "matroska,webm").
_DEMUXERS = {
    "mp4": "mov",
    "mov": "mov",
    "3gp": "mov",
    "mpg": "mpeg",
    "ts": "mpegts",
    "avi": "avi",
    "flv": "flv",
    "webm": "matroska",
    "wmv": "asf",
}
_SNIFF_BYTES = 8192
_PLAYBACK_MAX_SIDE = 1280
_PLAYBACK_MAX_FPS = 30
# How far before a failed seek target to start again (see _grab). Capped at the target itself:
# within the first 30 s that means "decode from the start"; later, a frame the last 30 s of
# decoding cannot reach is not worth the rest of the time budget (the first frame stands in).
_SEEK_BACKOFF_MS = (0, 2_000, 10_000, 30_000)
_FRAME_WORKERS = 2  # one ffmpeg per frame; the media queue runs on small boxes (2 cores)

# How frames are chosen (sample_frames): evenly spaced; where the picture changes most; evenly
# spaced without near-duplicates.
STRATEGIES = ("even", "scene", "dedup")
# "scene" looks at this many candidates per frame it returns, each as a 64x64 grey thumbnail
# (4 KB raw): enough to see a dialog open or a page change, cheap to decode and compare.
_SCENE_OVERSAMPLE = 3
_THUMB_SIDE = 64
# Mean absolute difference (0-255) below which two thumbnails show the same screen: x264 noise
# on a still screen stays under 1; a dialog over a tenth of the screen gives 5+.
_SCENE_NOISE = 1.0

_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
_INPUT = re.compile(r"^Input #0, ([\w,]+), from", re.MULTILINE)
_STREAM = re.compile(r"^\s*Stream #0:\d+")
_VIDEO_CODEC = re.compile(r": Video: (\w+)")
_DIMENSIONS = re.compile(r", (\d{1,5})x(\d{1,5})\b")
_ROTATION = re.compile(r"rotation of (-?\d+(?:\.\d+)?) degrees", re.IGNORECASE)
_PROGRESS_FRAME = re.compile(r"^frame=(\d+)", re.MULTILINE)
_PROGRESS_TIME = re.compile(r"^out_time_us=(\d+)", re.MULTILINE)
# showinfo's line for the frame it passed on; pts_time is relative to the seek point.
_SHOWINFO_PTS = re.compile(r"Parsed_showinfo.*? pts_time:(-?\d+(?:\.\d+)?(?:e-?\d+)?)")


@functools.cache
def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def probe_video(path: Path, *, timeout_s: float) -> VideoProbe:
    """Duration, displayed size, codec, rotation and container of a recording. Raises MediaRejected.

    Decodes the first frame too (~20 ms more than reading the header): a file whose header
    survived but whose frames did not is rejected here, with a reason, not later as "no frames".
    """
    demuxer = _demuxer_for(path)
    # "V": video streams that are not cover art (an mp3's album picture is a "video" stream)
    stream = _input(path, demuxer=demuxer)["V:0"]
    command = _command(ffmpeg.output(stream, "-", f="null", progress="pipe:1", **{"frames:v": 1}))
    result = _run(command, timeout_s=timeout_s)
    text = result.stderr.decode(errors="replace")
    header = text.split("\nStream mapping:", 1)[0].split("\nOutput #0", 1)[0]
    if (input_match := _INPUT.search(header)) is None:
        raise MediaRejected(f"could not read the recording: {_short_error(text, path=path)}")
    stream = _first_video_stream(header)
    if stream is None:
        raise MediaRejected("the file has no video stream")
    codec_match, dims = _VIDEO_CODEC.search(stream), _DIMENSIONS.search(stream)
    if codec_match is None or dims is None:
        raise MediaRejected("could not read the recording: the video stream has no picture size")
    width, height = int(dims.group(1)), int(dims.group(2))
    decoded = [int(n) for n in _PROGRESS_FRAME.findall(result.stdout.decode(errors="replace"))]
    if max(decoded, default=0) < 1 or width == 0 or height == 0:
        raise MediaRejected(
            f"could not read the recording: {_short_error(text, path=path, fallback='no frame could be decoded')}"
        )

    rotation = 0
    if (rot := _ROTATION.search(stream)) is not None:
        # ffmpeg prints the display matrix's counter-clockwise angle; phones' "rotate" tag and
        # everyone else speak clockwise: -90.00 here is a portrait phone video (rotate=90).
        rotation = (round(-float(rot.group(1)) / 90) * 90) % 360
    if rotation in (90, 270):
        width, height = height, width  # as displayed: the CLI auto-rotates frames the same way

    if (match := _DURATION.search(header)) is not None:
        hours, minutes, seconds = match.groups()
        duration = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    else:
        # "Duration: N/A": a browser MediaRecorder webm has no duration in its header; a
        # stream-copy pass reads every packet's timestamp without decoding (~40 ms).
        duration = _duration_by_copy(path, demuxer=demuxer, timeout_s=timeout_s)
    if duration <= 0:
        raise MediaRejected("the recording has no duration (is it empty or cut short?)")
    container = input_match.group(1).split(",")[0]  # "mov,mp4,m4a,3gp,3g2,mj2" -> "mov"
    return VideoProbe(
        duration_s=duration,
        width=width,
        height=height,
        codec=codec_match.group(1),
        rotation=rotation,
        container=container,
    )


def sample_frames(
    path: Path,
    *,
    probe: VideoProbe,
    count: int,
    max_side: int,
    timeout_s: float,
    strategy: str = "even",
    dedup_threshold: int = 4,
) -> list[Frame]:
    """Up to `count` frames as JPEG, longest side <= max_side, sorted by time.

    strategy (STRATEGIES):
    - "even": `count` frames evenly spaced over the duration.
    - "scene": the first moment plus the `count - 1` moments where the picture changed most (see
      _scene_stamps); on a screen recording that is the dialog, the error, the next page.
    - "dedup": "even" without near-duplicates (dHash within `dedup_threshold` bits of a frame
      already kept): a still screen gives one frame, not `count` copies of it.

    One ffmpeg per frame with input seeking (`-ss` before `-i`), so the cost follows `count`, not
    the duration. Evenly spaced frames take the keyframe that opens the GOP around each moment,
    decoding that one picture (`-skip_frame nokey`), when it lies in the moment's own slice of the
    recording (duration / count); otherwise (a GOP longer than a slice, a WebM with one keyframe)
    that frame is decoded exactly from the keyframe before it. Each frame keeps its real moment.
    `timeout_s` bounds the whole call. Frames the seek could not produce are replaced by the first
    frame; identical frames (a clip shorter than `count` frames) are kept once.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown frame strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    demuxer = _demuxer_for(path)
    deadline = time.monotonic() + timeout_s
    count = max(1, count)
    if strategy == "scene":
        stamps_ms = _scene_stamps(
            path, demuxer=demuxer, probe=probe, count=count, deadline=deadline, timeout_s=timeout_s
        )
    else:
        stamps_ms = _even_stamps(probe.duration_s, count)
    slot_ms = 0 if strategy == "scene" else int(probe.duration_s * 1000 / count)
    frames = _grab_frames(
        path,
        demuxer=demuxer,
        stamps_ms=stamps_ms,
        max_side=max_side,
        deadline=deadline,
        timeout_s=timeout_s,
        slot_ms=slot_ms,
    )
    if strategy == "dedup":
        frames = _drop_near_duplicates(frames, threshold=dedup_threshold)
    return frames


def format_timestamp(ms: int) -> str:
    """A frame's moment as the model and the agent read it: "00:01:23" (hh:mm:ss, rounded down)."""
    seconds = max(0, int(ms)) // 1000
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _even_stamps(duration_s: float, count: int) -> list[int]:
    return sorted({int((i + 0.5) * duration_s * 1000 / count) for i in range(count)})


def _grab_frames(
    path: Path,
    *,
    demuxer: str,
    stamps_ms: list[int],
    max_side: int,
    deadline: float,
    timeout_s: float,
    slot_ms: int = 0,
) -> list[Frame]:
    """The frames at `stamps_ms`. With `slot_ms`, a keyframe within slot_ms/2 of a moment stands in
    for it (one picture decoded instead of a GOP), unless another moment already took it."""

    def grab(at_ms: int) -> bytes:
        return _grab(
            path,
            demuxer=demuxer,
            at_ms=at_ms,
            output=_jpeg_output(max_side),
            deadline=deadline,
            timeout_s=timeout_s,
        )

    def keyframe(at_ms: int) -> tuple[bytes, int]:
        # The last keyframe before the slice's end: it lies in the slice whenever the slice holds
        # any keyframe at all, so one seek serves every slice a GOP can reach.
        start, end = at_ms - slot_ms / 2, at_ms + slot_ms / 2
        data, moment = _grab_keyframe(
            path,
            demuxer=demuxer,
            at_ms=max(0, int(end) - 1),
            max_side=max_side,
            deadline=deadline,
            timeout_s=timeout_s,
        )
        if data and moment is not None and start <= moment < end:
            return data, moment
        return b"", at_ms

    with ThreadPoolExecutor(max_workers=_FRAME_WORKERS) as pool:
        if slot_ms > 0:
            found = list(pool.map(keyframe, stamps_ms))
            # The same keyframe reached from two slices is the same picture (bitexact JPEG), even
            # where a container's timestamps put it a few ms apart (AVI): keep it once.
            taken: set[bytes] = set()
            exact: list[int] = []  # moments no keyframe of their own serves: decoded exactly
            for i, (data, _) in enumerate(found):
                digest = hashlib.sha256(data).digest()
                if data and digest not in taken:
                    taken.add(digest)
                else:
                    exact.append(i)
            # Decoded exactly at the slice's start: the decoder runs from the keyframe before it,
            # which is usually just before (the previous slice's), not half a slice further.
            starts = {i: stamps_ms[i] - slot_ms // 2 if i else stamps_ms[i] for i in exact}
            for i, data in zip(exact, pool.map(grab, [starts[i] for i in exact]), strict=True):
                found[i] = (data, starts[i])
            # A slice's start can show the very picture another slice already has (a keyframe
            # right there, a still screen): that slice takes its middle instead.
            seen: set[bytes] = set()
            again = []
            for i, (data, _) in enumerate(found):
                digest = hashlib.sha256(data).digest()
                if i in starts and digest in seen:
                    again.append(i)
                seen.add(digest)
            for i, data in zip(again, pool.map(grab, [stamps_ms[i] for i in again]), strict=True):
                found[i] = (data, stamps_ms[i])
            stamps_ms = [moment for _, moment in found]
            grabbed = [data for data, _ in found]
        else:
            grabbed = list(pool.map(grab, stamps_ms))
    if not all(grabbed):
        # Clips under a second and files cut short can yield nothing at a seek point (exit code 0,
        # zero bytes): the first frame stands in, with its own timestamp.
        first = grab(0)
        stamps_ms = [at if data else 0 for at, data in zip(stamps_ms, grabbed, strict=True)]
        grabbed = [data or first for data in grabbed]
    frames: list[Frame] = []
    seen = set()
    for at_ms, data in zip(stamps_ms, grabbed, strict=True):
        digest = hashlib.sha256(data).digest()
        if not data or digest in seen:
            continue
        seen.add(digest)
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
        frames.append(
            Frame(
                data=data, mime="image/jpeg", extension="jpg", width=width, height=height, timestamp_ms=at_ms
            )
        )
    return sorted(frames, key=lambda f: f.timestamp_ms)


def _scene_stamps(
    path: Path, *, demuxer: str, probe: VideoProbe, count: int, deadline: float, timeout_s: float
) -> list[int]:
    """The first candidate plus the `count - 1` candidates that differ most from the one before.

    Candidates are `_SCENE_OVERSAMPLE * count` evenly spaced moments, each grabbed by input seeking
    as a 64x64 grey thumbnail: the cost grows with `count` (4 ffmpeg runs per returned frame), not
    with the duration, unlike a scene filter that decodes every frame. A change shorter than the
    candidate spacing can fall between two candidates: that is the price of a bounded cost.
    When fewer moments changed than there are frames to fill, the rest are spread over the time
    not covered yet, so a still recording still gets frames from its start, middle and end.
    """
    candidates = _even_stamps(probe.duration_s, _SCENE_OVERSAMPLE * count)
    size = _THUMB_SIDE * _THUMB_SIDE

    def thumb(at_ms: int) -> bytes:
        return _grab(
            path, demuxer=demuxer, at_ms=at_ms, output=_THUMB_OUTPUT, deadline=deadline, timeout_s=timeout_s
        )

    with ThreadPoolExecutor(max_workers=_FRAME_WORKERS) as pool:
        thumbs = list(pool.map(thumb, candidates))
    # a seek that gave nothing (end of an MPEG stream, a cut file) is not a candidate
    kept = [(at, data) for at, data in zip(candidates, thumbs, strict=True) if len(data) == size]
    if not kept:
        return _even_stamps(probe.duration_s, count)
    pixels = [np.frombuffer(data, dtype=np.uint8).astype(np.int16) for _, data in kept]
    changes = [float("inf")] + [
        float(np.abs(cur - prev).mean()) for prev, cur in zip(pixels, pixels[1:], strict=False)
    ]
    changed = [i for i in range(len(kept)) if changes[i] >= _SCENE_NOISE]
    chosen = sorted(changed, key=lambda i: (-changes[i], i))[:count]
    # Fewer changes than frames (a mostly still screen): fill with the candidates farthest from
    # those already chosen, so the rest of the recording is still covered.
    rest = [i for i in range(len(kept)) if i not in chosen]
    while len(chosen) < count and rest:
        far = max(rest, key=lambda i: (min(abs(kept[i][0] - kept[c][0]) for c in chosen), -i))
        chosen.append(far)
        rest.remove(far)
    return sorted(kept[i][0] for i in chosen)


def _drop_near_duplicates(frames: list[Frame], *, threshold: int) -> list[Frame]:
    """Frames whose dHash is more than `threshold` bits from every frame kept before them.

    Compared with all kept frames, not only the previous one: coming back to a screen already
    shown adds nothing the model has not seen. The first frame is always kept.
    """
    kept: list[Frame] = []
    hashes: list[int] = []
    for frame in frames:
        digest = dhash(frame.data)
        if hashes and min(hamming(digest, seen) for seen in hashes) <= threshold:
            continue
        kept.append(frame)
        hashes.append(digest)
    return kept


def transcode_for_playback(src: Path, dst: Path, *, probe: VideoProbe, timeout_s: float) -> PlaybackVideo:
    """An H.264/AAC MP4 any browser plays: longest side <= 1280, even dimensions, at most 30 fps."""
    demuxer = _demuxer_for(src)
    side = _PLAYBACK_MAX_SIDE
    # fit in side x side without upscaling; x264 with yuv420p needs even dimensions
    scale = (
        f"scale=w='min({side},iw)':h='min({side},ih)':force_original_aspect_ratio=decrease:"
        "force_divisible_by=2"
    )
    fps = f"fps=fps='min({_PLAYBACK_MAX_FPS},source_fps)'"
    source = _input(src, demuxer=demuxer)
    output = ffmpeg.output(
        source["V:0"],
        source["a:0?"],  # keep a narration if there is one
        f"file:{dst}",
        f="mp4",
        vf=f"{scale},{fps}",
        preset="veryfast", crf=28, pix_fmt="yuv420p", ac=2, movflags="+faststart",
        **{"c:v": "libx264", "c:a": "aac", "b:a": "96k"},
    )  # fmt: skip
    del probe  # part of the contract; the CLI reads size, rotation and frame rate itself
    result = _run(_command(output, overwrite=True), timeout_s=timeout_s)
    if result.returncode != 0 or not dst.exists() or dst.stat().st_size == 0:
        reason = _short_error(result.stderr.decode(errors="replace"), path=src)
        raise MediaRejected(f"could not convert the recording for playback: {reason}")
    out = probe_video(dst, timeout_s=timeout_s)
    return PlaybackVideo(mime="video/mp4", width=out.width, height=out.height, size_bytes=dst.stat().st_size)


def transcode_for_model(
    src: Path, dst: Path, *, max_height: int = 1080, fps: float = 2.0, timeout_s: float
) -> PlaybackVideo:
    """The recording itself for a model's native video input: H.264 MP4, no audio.

    Height <= max_height (never upscaled), even dimensions, at most `fps` frames per second: a
    screen recording changes slowly, and the model bills by the frame it looks at. crf 30 keeps
    text readable at a fraction of the playback file's size.
    """
    demuxer = _demuxer_for(src)
    # even height and width (x264 with yuv420p); `-2` keeps the aspect ratio
    scale = f"scale=w=-2:h='trunc(min({int(max_height)},ih)/2)*2'"
    rate = f"fps=fps='min({float(fps)},source_fps)'"
    output = ffmpeg.output(
        _input(src, demuxer=demuxer)["V:0"],
        f"file:{dst}",
        f="mp4",
        an=None,
        vf=f"{scale},{rate}",
        preset="veryfast", crf=30, pix_fmt="yuv420p", movflags="+faststart",
        **{"c:v": "libx264"},
    )  # fmt: skip
    result = _run(_command(output, overwrite=True), timeout_s=timeout_s)
    if result.returncode != 0 or not dst.exists() or dst.stat().st_size == 0:
        reason = _short_error(result.stderr.decode(errors="replace"), path=src)
        raise MediaRejected(f"could not convert the recording for the model: {reason}")
    out = probe_video(dst, timeout_s=timeout_s)
    return PlaybackVideo(mime="video/mp4", width=out.width, height=out.height, size_bytes=dst.stat().st_size)


def _demuxer_for(path: Path) -> str:
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    sniffed = sniff(head)  # raises MediaRejected with its own reason
    if sniffed.kind != "video":
        raise MediaRejected(f"not a recording (looks like a {sniffed.extension.upper()} image)")
    return _DEMUXERS[sniffed.extension]


def _input(path: Path, *, demuxer: str, **options: object) -> Any:
    """The recording as ffmpeg-python's input node: the demuxer forced, only the file protocol.

    `options` are further input options (`ss`, `skip_frame`...). `file:` keeps a name like
    "concat:a|b" or "http:..." from being read as a protocol URL."""
    return ffmpeg.input(f"file:{path}", f=demuxer, protocol_whitelist="file", **options)


def _command(output: Any, *, overwrite: bool = False) -> list[str]:
    """The whole command line of an ffmpeg-python output node, for `_run`."""
    argv: list[str] = output.compile(
        cmd=[ffmpeg_exe(), "-nostdin", "-hide_banner"], overwrite_output=overwrite
    )
    return argv


def _run(command: list[str], *, timeout_s: float) -> subprocess.CompletedProcess[bytes]:
    if timeout_s <= 0:
        raise MediaRejected("processing the recording took longer than the time allowed")
    try:
        return subprocess.run(
            command,
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        # subprocess.run has killed ffmpeg by now
        raise MediaRejected(f"processing the recording took longer than {timeout_s:.0f} s") from None


def _first_video_stream(header: str) -> str | None:
    """The first video stream's lines (its Stream line, metadata and side data); cover art skipped."""
    lines = header.splitlines()
    for i, line in enumerate(lines):
        if _STREAM.match(line) and ": Video: " in line and "(attached pic)" not in line:
            block = [line]
            for following in lines[i + 1 :]:
                if _STREAM.match(following) or not following.startswith("    "):
                    break
                block.append(following)
            return "\n".join(block)
    return None


def _duration_by_copy(path: Path, *, demuxer: str, timeout_s: float) -> float:
    stream = _input(path, demuxer=demuxer)["V:0"]
    command = _command(ffmpeg.output(stream, "-", c="copy", f="null", progress="pipe:1"))
    result = _run(command, timeout_s=timeout_s)
    times = [int(t) for t in _PROGRESS_TIME.findall(result.stdout.decode(errors="replace"))]
    return max(times, default=0) / 1_000_000


def _grab(
    path: Path, *, demuxer: str, at_ms: int, output: dict[str, object], deadline: float, timeout_s: float
) -> bytes:
    """One frame at `at_ms`, encoded by `output` (_jpeg_output, _THUMB_OUTPUT), or b"" when no
    attempt produced one.

    Input seeking is exact when the demuxer finds a keyframe before the target. MPEG-PS/TS have
    no index: a seek into the last GOP lands after its keyframe and yields nothing (exit code 0).
    Then we start earlier and let the decoder skip forward (`-ss` after `-i`): one typical GOP
    back, then further (_SEEK_BACKOFF_MS).
    """
    for back_ms in _SEEK_BACKOFF_MS:
        back_ms = min(back_ms, at_ms)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise MediaRejected(f"processing the recording took longer than {timeout_s:.0f} s")
        # an input option (before -i): jump, don't decode from 0
        source = _input(path, demuxer=demuxer, ss=f"{(at_ms - back_ms) / 1000:.3f}")
        # an output option (after -i): decode and drop frames up to the target
        skip = {"ss": f"{back_ms / 1000:.3f}"} if back_ms else {}
        frame = ffmpeg.output(source["V:0"], "pipe:1", **skip, **{"frames:v": 1}, **output)
        result = _run(_command(frame), timeout_s=remaining)
        if result.returncode == 0 and result.stdout:
            return result.stdout
        if back_ms == at_ms:
            break
    return b""


def _grab_keyframe(
    path: Path, *, demuxer: str, at_ms: int, max_side: int, deadline: float, timeout_s: float
) -> tuple[bytes, int | None]:
    """The keyframe the seek to `at_ms` lands on and its moment in ms, decoding only keyframes.

    `-noaccurate_seek` keeps the keyframe instead of decoding on to the target; `-skip_frame nokey`
    makes the decoder skip every other picture, so the cost is one keyframe whatever the GOP.
    showinfo reports the frame's time relative to the seek point. (b"", None) when nothing came out.
    """
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise MediaRejected(f"processing the recording took longer than {timeout_s:.0f} s")
    source = _input(path, demuxer=demuxer, skip_frame="nokey", noaccurate_seek=None, ss=f"{at_ms / 1000:.3f}")
    # passthrough: a keyframe before the seek point has a negative time, which the default
    # constant-frame-rate output would drop (and then encode the next keyframe instead)
    frame = ffmpeg.output(
        source["V:0"],
        "pipe:1",
        fps_mode="passthrough",
        **{"frames:v": 1},
        **_jpeg_output(max_side, showinfo=True),
    )
    result = _run(_command(frame), timeout_s=remaining)
    if result.returncode != 0 or not result.stdout:
        return b"", None
    match = _SHOWINFO_PTS.search(result.stderr.decode(errors="replace"))
    if match is None:
        return b"", None
    return result.stdout, max(0, at_ms + round(float(match.group(1)) * 1000))


def _jpeg_output(max_side: int, *, showinfo: bool = False) -> dict[str, object]:
    """Output options of one JPEG frame on stdout."""
    return {
        "vf": ("showinfo," if showinfo else "") + _frame_filter(max_side),
        "c:v": "mjpeg",
        "q:v": 3,
        # no encoder version string: the same frame gives the same bytes (content keys)
        "fflags": "+bitexact",
        "flags:v": "+bitexact",
        "f": "image2pipe",
    }


# a 64x64 grey thumbnail as raw bytes (scene detection compares these, nobody looks at them)
_THUMB_OUTPUT: dict[str, object] = {"vf": f"scale={_THUMB_SIDE}:{_THUMB_SIDE},format=gray", "f": "rawvideo"}


def _frame_filter(max_side: int) -> str:
    # Fit inside max_side x max_side, keep the aspect ratio, never upscale. out_range=full: the
    # mjpeg encoder refuses limited-range input (MPEG-2, VP8 ...), JPEG is full range anyway.
    return (
        f"scale=w='min({max_side},iw)':h='min({max_side},ih)':force_original_aspect_ratio=decrease:"
        "out_range=full"
    )


def _short_error(stderr: str, *, path: Path, fallback: str = "the file is damaged or not a video") -> str:
    """One line an agent can read, not ffmpeg's log: the last error-looking line, path removed."""
    lines = [
        ln.strip()
        for ln in stderr.replace(f"file:{path}", "the file").replace(str(path), "the file").splitlines()
    ]
    keywords = ("invalid", "error", "not found", "no such", "corrupt", "truncated", "could not", "unknown")
    interesting = [ln for ln in lines if ln and any(k in ln.lower() for k in keywords)]
    if not interesting:
        return fallback
    line = re.sub(r"^\[[^\]]*\]\s*", "", interesting[-1])  # "[mov,mp4,... @ 0x55...] " prefixes
    return line[:160]
