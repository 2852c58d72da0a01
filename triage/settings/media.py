"""What the media workers make of an upload: image sizes, video frames, ffmpeg, OCR, token budget."""

from __future__ import annotations

import os

from triage.settings.base import env
from triage.settings.celery import CELERY_WORKER_MAX_MEMORY_PER_CHILD

# Kimi's vision encoder downsizes anything over 16,384 patches of 14x14 px (docs/kimi.md §2):
# more pixels only cost upload time, so this is the normalized size we send.
TRIAGE_IMAGE_MAX_PIXELS = env.int("TRIAGE_IMAGE_MAX_PIXELS", default=16384 * 14 * 14)
TRIAGE_IMAGE_MAX_SIDE = env.int("TRIAGE_IMAGE_MAX_SIDE", default=4096)
# Decompression-bomb guard on what we accept (source pixels).
TRIAGE_SOURCE_MAX_PIXELS = env.int("TRIAGE_SOURCE_MAX_PIXELS", default=60_000_000)
TRIAGE_VIDEO_FRAMES = env.int("TRIAGE_VIDEO_FRAMES", default=8)
TRIAGE_VIDEO_MAX_DURATION_S = env.int("TRIAGE_VIDEO_MAX_DURATION_S", default=1800)
TRIAGE_FRAME_MAX_SIDE = env.int("TRIAGE_FRAME_MAX_SIDE", default=1280)
TRIAGE_FFMPEG_TIMEOUT_S = env.int("TRIAGE_FFMPEG_TIMEOUT_S", default=120)
# How frames are picked from a recording: even | scene | dedup (falls back to even when the
# installed sampler does not know the strategy).
TRIAGE_VIDEO_STRATEGY = env.str("TRIAGE_VIDEO_STRATEGY", default="even")
# Estimated model tokens the media of one ticket may cost (tokens.py). Images cannot be cut (~4.2K
# each at most); the recordings share what the images leave and get, within their share: the video
# itself (Kimi, short clips), separate frames, or a storyboard. The default holds three full-size
# screenshots plus eight 1280x720 frames (~1.2K each).
TRIAGE_MEDIA_TOKEN_BUDGET = env.int("TRIAGE_MEDIA_TOKEN_BUDGET", default=30000)
# What the model gets for a recording: auto | frames | storyboard | native (see pipeline.py).
TRIAGE_VIDEO_REPRESENTATION = env.str("TRIAGE_VIDEO_REPRESENTATION", default="auto")
# The video sent as itself: at most this tall and this many frames per second (Kimi samples 2/s).
TRIAGE_NATIVE_VIDEO_MAX_HEIGHT = env.int("TRIAGE_NATIVE_VIDEO_MAX_HEIGHT", default=1080)
TRIAGE_NATIVE_VIDEO_FPS = env.float("TRIAGE_NATIVE_VIDEO_FPS", default=2.0)
TRIAGE_OCR_ENABLED = env.bool("TRIAGE_OCR_ENABLED", default=True)
# OCR reads of one attachment (frames, bands of frames) run on this many threads sharing the worker
# child's one engine. Measured on 1280x720 frames: the engine with one read peaks at ~300 MB, each
# further concurrent read adds ~130 MB. The default fits the child's memory limit
# (TRIAGE_WORKER_MAX_MEMORY_MB, of which ~250 MB go to Django and the rest of the worker) and never
# exceeds the cores; each read then runs onnxruntime on cores // concurrency threads, so 2 cores
# are not oversubscribed.
_OCR_BASE_MB, _OCR_ENGINE_MB, _OCR_READ_MB = 250, 300, 130
_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
TRIAGE_OCR_CONCURRENCY = env.int(
    "TRIAGE_OCR_CONCURRENCY",
    default=max(
        1,
        min(
            _CORES,
            1 + (CELERY_WORKER_MAX_MEMORY_PER_CHILD // 1024 - _OCR_BASE_MB - _OCR_ENGINE_MB) // _OCR_READ_MB,
        ),
    ),
)
TRIAGE_OCR_THREADS_PER_READ = max(1, _CORES // TRIAGE_OCR_CONCURRENCY)
