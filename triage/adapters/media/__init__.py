"""Media adapters: pure functions over bytes and files (Pillow, ffmpeg). No ORM, no settings reads.

Contract used by triage.services.media:
- sniff(head: bytes) -> SniffResult                      (sniff.py)   raises MediaRejected
- normalize_image(path, *, limits) -> NormalizedImage    (images.py)  raises MediaRejected
- probe_video(path, *, timeout_s) -> VideoProbe          (video.py)   raises MediaRejected
- sample_frames(path, *, probe, count, max_side, timeout_s) -> list[Frame]   (video.py)
- transcode_for_playback(src, dst, *, probe, timeout_s) -> PlaybackVideo      (video.py)
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
