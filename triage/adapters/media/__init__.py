"""Media adapters: pure functions over bytes and files (Pillow, ffmpeg). No ORM, no settings reads.

Entry point for the worker and `media_inspect`: pipeline.process_media(path, *, sniff, config).
The pieces it uses:
- sniff.sniff(head) -> SniffResult                                       raises MediaRejected
- images.normalize_image(path, *, limits) / is_animated / sample_animation
- video.probe_video, video.sample_frames(..., strategy="even"|"scene"|"dedup"),
  video.transcode_for_playback, video.transcode_for_model, video.format_timestamp
- storyboard.build_storyboard(frames) and tokens.estimate_image_tokens / estimate_video_tokens
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


class MediaRejected(Exception):
    """The file is not something we accept. `reason` is shown to the agent as is."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SniffResult:
    kind: Literal["image", "video"]
    mime: str  # e.g. "image/png", "video/mp4"
    extension: str  # without dot, used for the storage key: "png", "mp4"


@dataclass(frozen=True)
class ImageLimits:
    max_pixels: int  # output: width*height at most this (model's useful limit)
    max_side: int  # output: longest side at most this
    max_source_pixels: int  # input: decompression-bomb guard


@dataclass(frozen=True)
class NormalizedImage:
    data: bytes
    mime: str  # image/png for screenshots (lossless), image/jpeg for photos
    extension: str
    width: int
    height: int
    source_width: int
    source_height: int


@dataclass(frozen=True)
class VideoProbe:
    duration_s: float
    width: int  # as displayed (after rotation)
    height: int
    codec: str
    rotation: int  # degrees, 0/90/180/270
    container: str


@dataclass(frozen=True)
class Frame:
    data: bytes
    mime: str
    extension: str
    width: int
    height: int
    timestamp_ms: int


@dataclass(frozen=True)
class PlaybackVideo:
    mime: str
    width: int
    height: int
    size_bytes: int
