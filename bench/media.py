"""Media pipeline figures: image normalization, frame sampling, model tokens, peak memory.

    python bench/media.py [--runs N]

Prints one JSON object per line: {"metric", "value", "unit"[, "goal", "note"]}. Generated inputs
are cached under /tmp/triage-bench/ (the 2-, 10- and 20-minute 1080p30 recordings take about six
minutes to make, once). Never part of the test pass/fail.

Images against libvips: wall time (`ours_over_libvips`) and CPU time (`ours_over_libvips_cpu`,
the two run alternately, libvips's operation cache off, the same output size and format). On a
shared machine the CPU figure is the one to read: wall time there mostly measures the neighbours.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "triage.settings")
CACHE = Path("/tmp/triage-bench")


def emit(metric: str, value: float | None, unit: str, **extra: object) -> None:
    shown = None if value is None else round(value, 3)
    print(json.dumps({"metric": metric, "value": shown, "unit": unit, **extra}), flush=True)


def timed(fn, runs: int) -> float:
    """Median wall time of `runs` calls, in ms (one warm-up call first: imports, caches)."""
    fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


# ---------------------------------------------------------------- inputs


def _photo(size: tuple[int, int]) -> Image.Image:
    # Gradients plus Gaussian sensor noise (effect_noise is C code: 24 MP in well under a second).
    w, h = size
    channels = [
        Image.blend(Image.linear_gradient("L").resize(size), Image.effect_noise(size, 40), 0.3),
        Image.blend(Image.linear_gradient("L").rotate(90).resize(size), Image.effect_noise(size, 40), 0.3),
        Image.blend(Image.radial_gradient("L").resize(size), Image.effect_noise(size, 40), 0.3),
    ]
    return Image.merge("RGB", channels)


def photo_jpeg(size: tuple[int, int] = (6000, 4000)) -> Path:
    path = CACHE / f"photo-{size[0]}x{size[1]}.jpg"
    if not path.exists():
        _photo(size).save(path, format="JPEG", quality=90)
    return path


def screenshot_png(size: tuple[int, int]) -> Path:
    from tests.media_samples import screenshot_image

    path = CACHE / f"screenshot-{size[0]}x{size[1]}.png"
    if not path.exists():
        screenshot_image(size).save(path, format="PNG")
    return path


def recording(minutes: int) -> Path:
    """1080p30 H.264 testsrc2, keyframe every 8 s (a screen recorder's GOP)."""
    from triage.adapters.media.video import ffmpeg_exe

    path = CACHE / f"rec-{minutes}min-1080p30.mp4"
    if not path.exists():
        tmp = path.with_suffix(".tmp.mp4")
        subprocess.run(
            [
                ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={minutes * 60}",
                "-c:v", "libx264", "-preset", "ultrafast", "-crf", "40",
                "-g", "240", "-keyint_min", "240", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
                "-f", "mp4", str(tmp),
            ],
            check=True,
        )  # fmt: skip
        tmp.rename(path)
    return path


# ---------------------------------------------------------------- (a) images


def bench_images(runs: int) -> None:
    from django.conf import settings

    from triage.adapters.media import ImageLimits
    from triage.adapters.media.images import normalize_image

    limits = ImageLimits(
        max_pixels=settings.TRIAGE_IMAGE_MAX_PIXELS,
        max_side=settings.TRIAGE_IMAGE_MAX_SIDE,
        max_source_pixels=settings.TRIAGE_SOURCE_MAX_PIXELS,
    )
    try:
        import pyvips

        # libvips caches operations: a repeated thumbnail of the same file would skip the load.
        pyvips.cache_set_max(0)
    except ImportError:  # pyvips + pyvips-binary are optional (test extras)
        pyvips = None

    note = "each includes the same encode (JPEG q85 for the photo, PNG level 6 for the screenshot)"
    for name, path in (
        ("photo_6000x4000_jpeg", photo_jpeg()),
        ("screenshot_3840x2160_png", screenshot_png((3840, 2160))),
    ):
        result = normalize_image(path, limits=limits)
        target = (result.width, result.height)
        fmt, save_kw = (
            ("JPEG", {"quality": 85}) if result.mime == "image/jpeg" else ("PNG", {"compress_level": 6})
        )

        def naive(path: Path = path, target=target, fmt=fmt, save_kw=save_kw) -> None:
            with Image.open(path) as img:
                img.load()
                small = img.convert("RGB").resize(target, Image.Resampling.LANCZOS)
            small.save(io.BytesIO(), format=fmt, **save_kw)

        ours_ms = timed(lambda path=path: normalize_image(path, limits=limits), runs)
        naive_ms = timed(naive, runs)
        emit(f"image.{name}.ours", ours_ms, "ms", note=f"to {target[0]}x{target[1]} {result.mime}")
        emit(f"image.{name}.naive_pillow", naive_ms, "ms", note=note)
        speedup_goal = {"goal": ">= 2.3"} if name.startswith("photo") else {}
        emit(f"image.{name}.speedup_vs_naive", naive_ms / ours_ms, "x", **speedup_goal)
        ratio_goal = {"goal": "<= 1.25"} if name.startswith("photo") else {}
        cpu_goal = {"goal": "<= 2"} if name.startswith("screenshot") else {}
        if pyvips is None:
            emit(
                f"image.{name}.libvips",
                None,
                "ms",
                note="pyvips not installed (pip install pyvips pyvips-binary)",
            )
            emit(f"image.{name}.ours_over_libvips", None, "ratio", note="pyvips not installed", **ratio_goal)
            emit(
                f"image.{name}.ours_over_libvips_cpu", None, "ratio", note="pyvips not installed", **cpu_goal
            )
            continue
        suffix = ".jpg[Q=85]" if fmt == "JPEG" else ".png[compression=6]"

        def vips(path: Path = path, target=target, suffix=suffix) -> bytes:
            thumb = pyvips.Image.thumbnail(str(path), target[0], height=target[1], size="down")
            return thumb.write_to_buffer(suffix)

        vips_ms = timed(vips, runs)
        emit(
            f"image.{name}.libvips",
            vips_ms,
            "ms",
            note=f"pyvips thumbnail, libvips {pyvips.version(0)}.{pyvips.version(1)}",
        )
        emit(f"image.{name}.ours_over_libvips", ours_ms / vips_ms, "ratio", **ratio_goal)
        # CPU time, the figure that matters on a shared machine (wall time there mostly measures the
        # neighbours): process_time() counts every thread of this process, libvips's pool and
        # OpenCV's alike. Interleaved, so a load change hits both; same size, same format.
        ours_cpu, vips_cpu = interleaved_cpu(
            lambda path=path: normalize_image(path, limits=limits), vips, runs
        )
        vips_size = pyvips.Image.new_from_buffer(vips(), "")
        emit(f"image.{name}.ours_cpu", ours_cpu, "ms", note=f"{len(result.data) // 1024} KB out")
        emit(
            f"image.{name}.libvips_cpu",
            vips_cpu,
            "ms",
            note=f"{vips_size.width}x{vips_size.height}, {len(vips()) // 1024} KB out",
        )
        emit(f"image.{name}.ours_over_libvips_cpu", ours_cpu / vips_cpu, "ratio", **cpu_goal)


def interleaved_cpu(ours, theirs, runs: int) -> tuple[float, float]:
    """Median CPU ms of each, run alternately (one warm-up each first)."""
    ours()
    theirs()
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for fn, out in ((ours, samples[0]), (theirs, samples[1])):
            start = time.process_time()
            fn()
            out.append((time.process_time() - start) * 1000)
    return statistics.median(samples[0]), statistics.median(samples[1])


# ---------------------------------------------------------------- (b) frames


def bench_frames() -> None:
    from triage.adapters.media.video import ffmpeg_exe, probe_video, sample_frames

    def ours(path: Path) -> float:
        probe = probe_video(path, timeout_s=120)
        start = time.perf_counter()
        frames = sample_frames(path, probe=probe, count=16, max_side=1280, timeout_s=600)
        elapsed = time.perf_counter() - start
        assert len(frames) == 16, len(frames)
        return elapsed

    ten = recording(10)
    probe = probe_video(ten, timeout_s=120)
    # Interleaved rounds, so a load change on the machine hits the three lengths alike.
    paths = {minutes: recording(minutes) for minutes in (2, 10, 20)}
    times: dict[int, list[float]] = {minutes: [] for minutes in paths}
    for _ in range(5):
        for minutes, path in paths.items():
            times[minutes].append(ours(path))
    ours_10 = statistics.median(times[10])
    start = time.perf_counter()
    out = subprocess.run(
        [
            ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(ten),
            "-vf", f"fps=16/{probe.duration_s:.3f},scale=1280:-2", "-c:v", "mjpeg", "-q:v", "3",
            "-f", "image2pipe", "pipe:1",
        ],
        capture_output=True,
        check=True,
    )  # fmt: skip
    naive_10 = time.perf_counter() - start
    del out
    emit(
        "frames.16_of_10min_1080p.ours",
        ours_10,
        "s",
        note="median of 5; the keyframe of each slice, one ffmpeg per frame, 2 at a time",
    )
    emit("frames.16_of_10min_1080p.fps_filter", naive_10, "s", note="decode the whole file, fps filter")
    emit("frames.16_of_10min_1080p.speedup", naive_10 / ours_10, "x", goal=">= 10")
    for minutes in (2, 20):
        seconds = statistics.median(times[minutes])
        emit(
            f"frames.16_of_{minutes}min_1080p.ours",
            seconds,
            "s",
            note="median of 5, interleaved with the 10-minute runs",
        )
        emit(
            f"frames.16_of_{minutes}min_1080p.vs_10min",
            seconds / ours_10 - 1,
            "fraction",
            goal="within +-0.30",
        )


# ---------------------------------------------------------------- (c) tokens


def bench_tokens() -> None:
    from triage.adapters.media.pipeline import process_media
    from triage.adapters.media.sniff import sniff
    from triage.adapters.media.tokens import attachment_budget, estimate_image_tokens, estimate_video_tokens
    from triage.services.media import media_config

    shot, video = screenshot_png((2880, 1800)), recording(2)
    raw = 3 * estimate_image_tokens(2880, 1800) + estimate_video_tokens(120, 1920, 1080)
    ticket_budget = media_config().media_token_budget
    sent = 0
    chosen = []
    for path, kind in ((shot, "image"), (shot, "image"), (shot, "image"), (video, "video")):
        # the worker's own per-attachment share of the ticket's budget (services/media.py)
        config = media_config(
            token_budget=attachment_budget(ticket_budget=ticket_budget, kind=kind, images=3, videos=1)
        )
        result = process_media(path, sniff=sniff(path.read_bytes()[:8192]), config=config)
        assert result.accepted, result.reason
        sent += result.token_estimate
        chosen.append(result.representation)
    emit(
        "tokens.standard_ticket.raw",
        raw,
        "tokens",
        note="3x 2880x1800 + 2 min 1080p video sent natively (estimate)",
    )
    emit(
        "tokens.standard_ticket.pipeline",
        sent,
        "tokens",
        note=f"as the worker sends it with the offline model: {', '.join(chosen)}; budget {ticket_budget}",
    )
    emit("tokens.standard_ticket.saving", 1 - sent / raw, "fraction", goal=">= 0.60")


# ---------------------------------------------------------------- (d) memory

_CHILD = """
import os, resource, sys, json
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "triage.settings")
import django; django.setup()
from pathlib import Path

from triage.adapters.media.pipeline import process_media
from triage.adapters.media.sniff import sniff
from triage.services.media import media_config
def hwm():
    # VmHWM belongs to this process image only; ru_maxrss also carries the parent's peak across exec
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0
base = hwm()
path = Path(sys.argv[1])
if path.name != "-":
    result = process_media(path, sniff=sniff(path.read_bytes()[:8192]), config=media_config())
    assert result.accepted, result.reason
print(json.dumps({"self_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "base_kb": base, "hwm_kb": hwm(),
                  "children_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def bench_memory() -> None:
    from django.conf import settings

    # The largest image we accept: TRIAGE_SOURCE_MAX_PIXELS (60 MP) as a PNG screenshot, the worst
    # case (no JPEG draft decoding to save us: the whole 180 MB RGB bitmap is decoded).
    side_w = int((settings.TRIAGE_SOURCE_MAX_PIXELS * 3 / 2) ** 0.5)
    side_h = settings.TRIAGE_SOURCE_MAX_PIXELS // side_w
    inputs = {
        f"image_{side_w}x{side_h}_png": screenshot_png((side_w, side_h)),
        "video_2min_1080p_mp4": recording(2),
    }
    for name, path in inputs.items():
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path)], cwd=ROOT, capture_output=True, check=True, text=True
        )
        usage = json.loads(out.stdout.strip().splitlines()[-1])
        emit(
            f"rss.{name}.worker_peak",
            usage["self_kb"] / 1024,
            "MiB",
            note=(
                f"getrusage maxrss of a child process; VmHWM {usage['hwm_kb'] / 1024:.0f} MiB, of which "
                f"{usage['base_kb'] / 1024:.0f} MiB is Python + Django + Pillow after imports"
            ),
        )
        if usage["children_kb"]:
            emit(
                f"rss.{name}.ffmpeg_peak",
                usage["children_kb"] / 1024,
                "MiB",
                note="largest ffmpeg process (an upper bound: maxrss survives fork+exec)",
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--only",
        choices=("memory", "images", "frames", "tokens"),
        action="append",
        help="run only these parts (repeatable); all by default",
    )
    args = parser.parse_args()
    parts = set(args.only or ("memory", "images", "frames", "tokens"))
    CACHE.mkdir(parents=True, exist_ok=True)
    import django

    django.setup()
    logging.getLogger("pyvips").setLevel(logging.WARNING)  # it logs every thumbnail at INFO
    started = time.perf_counter()
    if "memory" in parts:
        bench_memory()  # first, while this process is small: a child's maxrss starts at ours
    if "images" in parts:
        bench_images(args.runs)
    if "frames" in parts:
        bench_frames()
    if "tokens" in parts:
        bench_tokens()
    emit("bench.total", time.perf_counter() - started, "s")


if __name__ == "__main__":
    main()
