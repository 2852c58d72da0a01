"""What the media worker does with one file, as a pure function: no ORM, no settings reads.

`process_media` turns a local file into the renditions we store and the model sees, chooses the
representation on purpose (one image, sampled video frames, or frames of an animation), says why,
and estimates what it will cost in model tokens (tokens.py). The worker (services/media.py) and
`manage.py media_inspect` both call it, so what the command prints is what the worker stores.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from triage.adapters.media import Frame, ImageLimits, MediaRejected, SniffResult, VideoProbe
from triage.adapters.media import images as image_adapter
from triage.adapters.media import tokens as token_adapter
from triage.adapters.media import video as video_adapter

# Nothing escapes process_media: a failure is a result (accepted=False), never retried by a task.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = ()

# Browsers play these as they are; anything else gets an H.264 playback copy.
BROWSER_PLAYABLE = frozenset(
    {
        ("video/mp4", "h264"),
        ("video/webm", "vp8"),
        ("video/webm", "vp9"),
        ("video/webm", "av1"),
    }
)
# The playback transcode re-encodes the whole file: it gets five ffmpeg time limits.
_PLAYBACK_TIMEOUT_FACTOR = 5

Representation = Literal["image", "frames", "animation-frames"]


@dataclass(frozen=True)
class MediaConfig:
    image_limits: ImageLimits
    frames: int  # frames sampled from a recording (or an animation) before the token budget
    frame_max_side: int
    ffmpeg_timeout_s: float
    video_max_duration_s: float
    frame_strategy: str = "even"  # even | scene | dedup (video.sample_frames, when it knows them)
    media_token_budget: int = 20_000  # estimated model tokens per attachment


@dataclass(frozen=True)
class RenditionOut:
    kind: Literal["IMAGE", "FRAME", "PLAYBACK"]  # Rendition.Kind values
    mime: str
    extension: str
    width: int
    height: int
    index: int = 0
    timestamp_ms: int | None = None
    data: bytes | None = None
    path: Path | None = None  # unused today: every rendition is returned in memory

    @property
    def size_bytes(self) -> int:
        if self.data is not None:
            return len(self.data)
        return self.path.stat().st_size if self.path is not None else 0


@dataclass(frozen=True)
class MediaResult:
    accepted: bool
    reason: str = ""
    failure_kind: Literal["", "bad_input", "bug"] = ""
    renditions: list[RenditionOut] = field(default_factory=list)
    source_width: int | None = None
    source_height: int | None = None
    duration_s: float | None = None
    probe: VideoProbe | None = None
    representation: Representation | None = None
    why: str = ""
    token_estimate: int = 0
    frames_chosen: int = 0
    strategy: str | None = None

    def metadata(self) -> dict[str, Any]:
        """What the worker keeps in Attachment.metadata (JSON)."""
        meta: dict[str, Any] = {
            "representation": self.representation,
            "why": self.why,
            "token_estimate": self.token_estimate,
            "frames_chosen": self.frames_chosen,
        }
        if self.strategy is not None:
            meta["strategy"] = self.strategy
        if self.probe is not None:
            meta.update(codec=self.probe.codec, rotation=self.probe.rotation, container=self.probe.container)
        return meta


def process_media(path: Path, *, sniff: SniffResult, config: MediaConfig) -> MediaResult:
    """Renditions, representation and token estimate for one file. Raises nothing.

    A file we do not accept gives accepted=False with the adapter's reason (failure_kind
    "bad_input"); anything unexpected gives accepted=False, "internal error (<Type>)" ("bug").
    """
    partial: dict[str, Any] = {}  # what we learned before a failure (the probe), kept for the row
    try:
        if sniff.kind == "image":
            return _image(path, config=config)
        return _video(path, sniff=sniff, config=config, partial=partial)
    except MediaRejected as exc:
        return MediaResult(accepted=False, reason=exc.reason, failure_kind="bad_input", **partial)
    except Exception as exc:  # a bug or a resource failure: reported, never raised to the caller
        return MediaResult(
            accepted=False, reason=f"internal error ({type(exc).__name__})", failure_kind="bug", **partial
        )


def _image(path: Path, *, config: MediaConfig) -> MediaResult:
    if image_adapter.is_animated(path):
        return _animation(path, config=config)
    normalized = image_adapter.normalize_image(path, limits=config.image_limits)
    tokens = token_adapter.estimate_image_tokens(normalized.width, normalized.height)
    why = (
        f"a still image: one normalized {normalized.extension.upper()} of "
        f"{normalized.width}x{normalized.height} (source {normalized.source_width}x"
        f"{normalized.source_height}), ~{tokens} tokens"
    )
    if tokens > config.media_token_budget:
        why += f"; over the {config.media_token_budget}-token budget, but one image cannot be cut"
    return MediaResult(
        accepted=True,
        renditions=[
            RenditionOut(
                kind="IMAGE",
                data=normalized.data,
                mime=normalized.mime,
                extension=normalized.extension,
                width=normalized.width,
                height=normalized.height,
            )
        ],
        source_width=normalized.source_width,
        source_height=normalized.source_height,
        representation="image",
        why=why + ".",
        token_estimate=tokens,
        frames_chosen=1,
    )


def _animation(path: Path, *, config: MediaConfig) -> MediaResult:
    # Kimi may bill an animated GIF/WebP as video (kimi-api.md §2); a few stills from it say as
    # much and cost a known amount.
    frames: list[Frame] = image_adapter.sample_animation(
        path, count=max(1, config.frames), limits=config.image_limits
    )
    if not frames:
        raise MediaRejected("no frame could be read from the animation")
    chosen, note = _fit_budget(frames, budget=config.media_token_budget, asked=config.frames)
    tokens = sum(token_adapter.estimate_image_tokens(f.width, f.height) for f in chosen)
    first = chosen[0]
    return MediaResult(
        accepted=True,
        renditions=_frame_renditions(chosen),
        source_width=first.width,
        source_height=first.height,
        representation="animation-frames",
        why=(
            f"an animated image: {len(chosen)} still frame(s) instead of the animation, which the "
            f"model may bill as video, ~{tokens} tokens{note}."
        ),
        token_estimate=tokens,
        frames_chosen=len(chosen),
    )


def _video(path: Path, *, sniff: SniffResult, config: MediaConfig, partial: dict[str, Any]) -> MediaResult:
    timeout = config.ffmpeg_timeout_s
    probe = video_adapter.probe_video(path, timeout_s=timeout)
    partial.update(
        probe=probe, source_width=probe.width, source_height=probe.height, duration_s=probe.duration_s
    )
    if probe.duration_s > config.video_max_duration_s:
        raise MediaRejected(
            f"recordings may be at most {config.video_max_duration_s / 60:.0f} minutes long; "
            f"this one is {probe.duration_s / 60:.1f} minutes"
        )

    # Choose the frame count before sampling: each frame costs one ffmpeg and a known number of
    # tokens at the size it will have.
    frame_w, frame_h = _fit_side(probe.width, probe.height, max_side=config.frame_max_side)
    per_frame = max(1, token_adapter.estimate_image_tokens(frame_w, frame_h))
    asked = max(1, config.frames)
    count = max(1, min(asked, config.media_token_budget // per_frame))
    strategy = config.frame_strategy
    frames = video_adapter.sample_frames(
        path, probe=probe, count=count, max_side=config.frame_max_side, timeout_s=timeout, strategy=strategy
    )
    if not frames:
        raise MediaRejected("no frame could be read from the recording")
    chosen, note = _fit_budget(frames, budget=config.media_token_budget, asked=asked)
    if count < asked and not note:
        note = f"; {count} of {asked} frames, the most that fit the {config.media_token_budget}-token budget"
    tokens = sum(token_adapter.estimate_image_tokens(f.width, f.height) for f in chosen)
    native = token_adapter.estimate_video_tokens(probe.duration_s, probe.width, probe.height)
    why = (
        f"a {probe.duration_s:.1f} s recording: {len(chosen)} frame(s) {_strategy_phrase(strategy)}"
        f" at {frame_w}x{frame_h} or less, ~{tokens} tokens instead of ~{native} for "
        f"the video sent as is{note}."
    )

    renditions = _frame_renditions(chosen)
    if (sniff.mime, probe.codec) not in BROWSER_PLAYABLE or probe.rotation:
        with tempfile.TemporaryDirectory() as tmp:
            dst = Path(tmp) / "playback.mp4"
            playback = video_adapter.transcode_for_playback(
                path, dst, probe=probe, timeout_s=timeout * _PLAYBACK_TIMEOUT_FACTOR
            )
            renditions.append(
                RenditionOut(
                    kind="PLAYBACK",
                    data=dst.read_bytes(),
                    mime=playback.mime,
                    extension="mp4",
                    width=playback.width,
                    height=playback.height,
                )
            )
    return MediaResult(
        accepted=True,
        renditions=renditions,
        source_width=probe.width,
        source_height=probe.height,
        duration_s=probe.duration_s,
        probe=probe,
        representation="frames",
        why=why,
        token_estimate=tokens,
        frames_chosen=len(chosen),
        strategy=strategy,
    )


def _strategy_phrase(strategy: str) -> str:
    return {
        "even": "sampled evenly",
        "scene": "sampled at scene changes",
        "dedup": "sampled with near-duplicates dropped",
    }.get(strategy, f"sampled ({strategy})")


def _fit_side(width: int, height: int, *, max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(1, width, height))
    return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))


def _fit_budget(frames: list[Frame], *, budget: int, asked: int) -> tuple[list[Frame], str]:
    """Keep an evenly spread subset of `frames` whose estimated tokens fit `budget` (at least one)."""
    costs = [token_adapter.estimate_image_tokens(f.width, f.height) for f in frames]
    if sum(costs) <= budget or len(frames) == 1:
        return frames, ""
    keep = len(frames)
    while keep > 1:
        keep -= 1
        picked = [frames[(i * len(frames)) // keep] for i in range(keep)]
        if sum(token_adapter.estimate_image_tokens(f.width, f.height) for f in picked) <= budget:
            break
    picked = [frames[(i * len(frames)) // keep] for i in range(keep)]
    return picked, f"; {keep} of {asked} frames, the most that fit the {budget}-token budget"


def _frame_renditions(frames: list[Frame]) -> list[RenditionOut]:
    return [
        RenditionOut(
            kind="FRAME",
            index=index,
            data=frame.data,
            mime=frame.mime,
            extension=frame.extension,
            width=frame.width,
            height=frame.height,
            timestamp_ms=frame.timestamp_ms,
        )
        for index, frame in enumerate(frames)
    ]
