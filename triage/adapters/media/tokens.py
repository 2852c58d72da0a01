"""Estimated Kimi input tokens for images and videos (docs/kimi.md §2-3). Pure arithmetic.

Every figure here is an ESTIMATE from the open-weight vision preprocessor (14 px patches, 2x2 merge,
16,384 patches per image, 4,096 per video frame, 2 frames per second, 4 frames pooled into one);
the hosted API may count differently. Use the estimate endpoint (§4) when the exact number matters.
"""

from __future__ import annotations

import math

PATCH_PX = 14
TOKEN_PX = PATCH_PX * 2  # a 2x2 merge of patches: one token covers 28x28 px
IMAGE_PATCH_LIMIT = 16384
PATCH_LIMIT_ON_ONE_SIDE = 512
VIDEO_SAMPLE_FPS = 2.0
VIDEO_FRAME_PATCH_LIMIT = 4096
VIDEO_TEMPORAL_MERGE = 4
# The most one image can cost: a x b tokens with a*b <= 4,096 and a <= 256 (512 patches on a side),
# each side rounded up: (a+1)(b+1) <= 4,096 + 256 + 16 + 1.
IMAGE_MAX_TOKENS = (
    IMAGE_PATCH_LIMIT // 4
    + PATCH_LIMIT_ON_ONE_SIDE // 2
    + IMAGE_PATCH_LIMIT // 4 // (PATCH_LIMIT_ON_ONE_SIDE // 2)
    + 1
)


def _fit_patches(width: int, height: int, *, patch_limit: int) -> tuple[float, float]:
    """The size the preprocessor downscales to: (w/14)*(h/14) <= patch_limit, each side <= 512 patches."""
    w, h = float(max(1, width)), float(max(1, height))
    scale = min(1.0, math.sqrt(patch_limit / ((w / PATCH_PX) * (h / PATCH_PX))))
    scale = min(scale, PATCH_LIMIT_ON_ONE_SIDE * PATCH_PX / max(w, h))
    # floor to whole pixels, as a resize does; never below one pixel
    return max(1.0, math.floor(w * scale)), max(1.0, math.floor(h * scale))


def _tokens(width: float, height: float) -> int:
    return math.ceil(width / TOKEN_PX) * math.ceil(height / TOKEN_PX)


def estimate_image_tokens(width: int, height: int) -> int:
    """ESTIMATED tokens for one image of width x height px (1920x1080 -> 2,691; at most ~4.2K)."""
    if width <= 0 or height <= 0:
        return 0
    return _tokens(*_fit_patches(width, height, patch_limit=IMAGE_PATCH_LIMIT))


def estimate_video_tokens(
    duration_s: float, width: int, height: int, *, fps: float = VIDEO_SAMPLE_FPS
) -> int:
    """ESTIMATED tokens for a video sent natively: 2 frames/s, each <= 4,096 patches, 4 frames pooled.

    A 1080p recording comes to ~516 tokens per second (~31K per minute). A file with fewer than 2
    frames per second (`fps`) cannot be sampled more often than it has frames.
    """
    if width <= 0 or height <= 0 or duration_s <= 0:
        return 0
    frames = max(1, math.ceil(duration_s * min(VIDEO_SAMPLE_FPS, max(fps, 0.01))))
    groups = math.ceil(frames / VIDEO_TEMPORAL_MERGE)
    return groups * _tokens(*_fit_patches(width, height, patch_limit=VIDEO_FRAME_PATCH_LIMIT))


def attachment_budget(*, ticket_budget: int, kind: str, images: int, videos: int) -> int:
    """One attachment's share of a ticket's media token budget.

    An image costs what it costs (it cannot be cut): it may take the whole budget. The recordings
    split equally what the ticket's images may take at most (IMAGE_MAX_TOKENS each) leave over.
    """
    if kind == "image":
        return ticket_budget
    return max(1, (ticket_budget - images * IMAGE_MAX_TOKENS) // max(1, videos))
