"""What the media workers make of an upload: image sizes, video frames, ffmpeg, OCR, token budget."""

from __future__ import annotations

from triage.settings.base import env

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
