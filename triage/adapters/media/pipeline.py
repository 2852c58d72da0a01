"""What the media worker does with one file, as a pure function: no ORM, no settings reads.

`process_media` turns a local file into the renditions we store and the model sees, chooses the
representation on purpose, says why, and estimates what it will cost in model tokens (tokens.py).
The worker (services/media.py) and `manage.py media_inspect` both call it, so what the command
prints is what the worker stores.

Representations: "image" (one normalized still), "animation-frames" (stills of a GIF/WebP), and
for a recording "frames" (separate stills with their moments), "storyboard" (the same stills tiled
into one or a few labelled sheets) or "native-video" (the recording itself, <= 1080p at a low
frame rate, for a provider that takes video). MediaConfig.representation "auto" picks, in order:
the video itself when the provider takes video and its estimate fits the budget; separate frames
when all of them fit; else the storyboard. Every recording also keeps its frames (the ticket page,
OCR and the offline model use them) and each attachment gets a small THUMB for the UI.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from triage.adapters.media import Frame, ImageLimits, MediaRejected, SniffResult, VideoProbe
from triage.adapters.media import images as image_adapter
from triage.adapters.media import storyboard as storyboard_adapter
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

Representation = Literal["image", "frames", "storyboard", "native-video", "animation-frames"]
# MediaConfig.representation: what the setting may ask for (recordings only; images are images)
REPRESENTATIONS = ("auto", "frames", "storyboard", "native")
# Kimi's limit for one uploaded file and for a whole request body (docs/kimi.md §2).
NATIVE_VIDEO_MAX_BYTES = 100 * 1024 * 1024
STORYBOARD_TILES = 9  # frames per sheet: 3 x 3


@dataclass(frozen=True)
class MediaConfig:
    image_limits: ImageLimits
    frames: int  # frames sampled from a recording (or an animation) before the token budget
    frame_max_side: int
    ffmpeg_timeout_s: float
    video_max_duration_s: float
    frame_strategy: str = "even"  # even | scene | dedup (video.sample_frames, when it knows them)
    media_token_budget: int = 20_000  # estimated model tokens this attachment may cost
    representation: str = "auto"  # REPRESENTATIONS
    native_video: bool = False  # the provider takes a video part (Kimi does; the offline model not)
    native_max_height: int = 1080
    native_fps: float = 2.0
    native_max_bytes: int = NATIVE_VIDEO_MAX_BYTES
    storyboard_max_side: int = 1920
    thumb_side: int = 320


@dataclass(frozen=True)
class RenditionOut:
    kind: Literal["IMAGE", "FRAME", "PLAYBACK", "STORYBOARD", "MODEL_VIDEO", "THUMB"]  # Rendition.Kind
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
    # estimated tokens of each representation considered, e.g. {"native-video": 61920, "frames": 9568}
    token_options: dict[str, int] = field(default_factory=dict)
    playback_error: str = ""  # why a recording browsers cannot play got no playback copy

    def metadata(self) -> dict[str, Any]:
        """What the worker keeps in Attachment.metadata (JSON)."""
        meta: dict[str, Any] = {
            "representation": self.representation,
            "why": self.why,
            "token_estimate": self.token_estimate,
            "token_estimate_is": "local estimate (docs/kimi.md §2 formula), not a count",
            "frames_chosen": self.frames_chosen,
        }
        if self.token_options:
            meta["token_options"] = self.token_options
        if self.strategy is not None:
            meta["strategy"] = self.strategy
        if self.playback_error:
            meta["playback_error"] = self.playback_error
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
            ),
            _thumb(normalized.data, side=config.thumb_side),
        ],
        source_width=normalized.source_width,
        source_height=normalized.source_height,
        representation="image",
        why=why + ".",
        token_estimate=tokens,
        frames_chosen=1,
    )


def _animation(path: Path, *, config: MediaConfig) -> MediaResult:
    # Kimi may bill an animated GIF/WebP as video (docs/kimi.md §2); a few stills from it say as
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
        renditions=[*_frame_renditions(chosen), _thumb(first.data, side=config.thumb_side)],
        source_width=first.width,
        source_height=first.height,
        representation="animation-frames",
        why=(
            f"an animated image: {_frames(len(chosen), 'still frame')} instead of the animation, which the "
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

    # Decide before decoding anything: each frame costs one ffmpeg and a known number of tokens at
    # the size it will have, and the video's estimate follows from its duration and size.
    plan = _video_plan(probe, config=config)
    frames = video_adapter.sample_frames(
        path,
        probe=probe,
        count=plan.frames,
        max_side=config.frame_max_side,
        timeout_s=timeout,
        strategy=config.frame_strategy,
    )
    if not frames:
        raise MediaRejected("no frame could be read from the recording")
    renditions = _frame_renditions(frames)
    renditions.append(_thumb(frames[0].data, side=config.thumb_side))
    representation, why, tokens = plan.representation, plan.why, 0

    if representation == "native-video":
        with tempfile.TemporaryDirectory() as tmp:
            dst = Path(tmp) / "model.mp4"
            model_video = video_adapter.transcode_for_model(
                path,
                dst,
                max_height=config.native_max_height,
                fps=config.native_fps,
                timeout_s=timeout * _PLAYBACK_TIMEOUT_FACTOR,
            )
            if model_video.size_bytes <= config.native_max_bytes:
                renditions.append(
                    RenditionOut(
                        kind="MODEL_VIDEO",
                        data=dst.read_bytes(),
                        mime=model_video.mime,
                        extension="mp4",
                        width=model_video.width,
                        height=model_video.height,
                    )
                )
                tokens = token_adapter.estimate_video_tokens(
                    probe.duration_s, model_video.width, model_video.height, fps=config.native_fps
                )
            else:
                representation = "storyboard" if plan.frames_cost > config.media_token_budget else "frames"
                why = (
                    f"the video for the model would be {model_video.size_bytes / 2**20:.0f} MB, over "
                    f"the {config.native_max_bytes / 2**20:.0f} MB a request may carry; {representation} instead"
                )

    chosen = frames
    if representation == "frames":
        chosen, note = _fit_budget(frames, budget=config.media_token_budget, asked=plan.frames)
        renditions = _frame_renditions(chosen) + [r for r in renditions if r.kind != "FRAME"]
        tokens = sum(token_adapter.estimate_image_tokens(f.width, f.height) for f in chosen)
        why = "; ".join(filter(None, [why, note.removeprefix("; ")]))
    elif representation == "storyboard":
        sheets = [
            storyboard_adapter.build_storyboard(
                frames[i : i + STORYBOARD_TILES], max_side=config.storyboard_max_side
            )
            for i in range(0, len(frames), STORYBOARD_TILES)
        ]
        renditions += _frame_renditions(sheets, kind="STORYBOARD")
        tokens = sum(token_adapter.estimate_image_tokens(s.width, s.height) for s in sheets)
    options = {**plan.options, representation: tokens}

    playback_error = ""
    if (sniff.mime, probe.codec) not in BROWSER_PLAYABLE or probe.rotation:
        with tempfile.TemporaryDirectory() as tmp:
            dst = Path(tmp) / "playback.mp4"
            try:
                playback = video_adapter.transcode_for_playback(
                    path, dst, probe=probe, timeout_s=timeout * _PLAYBACK_TIMEOUT_FACTOR
                )
            except MediaRejected as exc:
                # The frames are what the model and the agent need; a recording too long to convert
                # in time stays downloadable as it is.
                playback_error = exc.reason
            else:
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
    strategy = config.frame_strategy
    return MediaResult(
        accepted=True,
        renditions=renditions,
        source_width=probe.width,
        source_height=probe.height,
        duration_s=probe.duration_s,
        probe=probe,
        representation=representation,
        why=(
            f"a {probe.duration_s:.1f} s recording sent as {_REPRESENTATION_PHRASE[representation]} "
            f"(~{tokens} tokens; "
            f"{_sampled(strategy, chosen=len(chosen), slots=plan.frames, duration_s=probe.duration_s)}): {why}."
        ),
        token_estimate=tokens,
        frames_chosen=len(chosen),
        strategy=strategy,
        token_options=options,
        playback_error=playback_error,
    )


_REPRESENTATION_PHRASE = {
    "native-video": "the video itself",
    "frames": "separate frames",
    "storyboard": "a storyboard",
}


@dataclass(frozen=True)
class _VideoPlan:
    representation: Representation
    frames: int  # how many frames to sample
    frames_cost: int  # estimated tokens of all asked frames as separate images
    why: str
    options: dict[str, int]


def _video_plan(probe: VideoProbe, *, config: MediaConfig) -> _VideoPlan:
    """Which representation a recording gets, before anything is decoded (module docstring)."""
    if config.representation not in REPRESENTATIONS:
        raise ValueError(
            f"unknown video representation {config.representation!r}; expected one of {', '.join(REPRESENTATIONS)}"
        )
    budget = config.media_token_budget
    asked = max(1, config.frames)
    frame_w, frame_h = _fit_side(probe.width, probe.height, max_side=config.frame_max_side)
    per_frame = max(1, token_adapter.estimate_image_tokens(frame_w, frame_h))
    frames_cost = per_frame * asked
    native_w, native_h = _fit_height(probe.width, probe.height, max_height=config.native_max_height)
    native = token_adapter.estimate_video_tokens(probe.duration_s, native_w, native_h, fps=config.native_fps)
    options = {"native-video": native, "frames": frames_cost}
    mode = config.representation

    def plan(representation: Representation, frames: int, why: str) -> _VideoPlan:
        return _VideoPlan(representation, frames, frames_cost, why, options)

    refused = ""
    if mode in ("auto", "native"):
        if not config.native_video:
            refused = "the model provider takes no video"
        elif native > budget:
            refused = f"the video itself (~{native} tokens) would not fit the {budget}-token budget"
        else:
            return plan("native-video", asked, f"the video itself fits the {budget}-token budget")
    if mode == "storyboard":
        return plan("storyboard", asked, "set by TRIAGE_VIDEO_REPRESENTATION")
    reason = "; ".join(
        filter(None, [refused if mode == "native" else "", "set by TRIAGE_VIDEO_REPRESENTATION"])
    )
    fit = budget // per_frame
    if mode == "frames" or (mode == "native" and fit >= asked):
        count = max(1, min(asked, fit))
        note = (
            f"{count} of {asked} frames, the most that fit the {budget}-token budget" if count < asked else ""
        )
        return plan("frames", count, "; ".join(filter(None, [reason, note])))
    if fit >= asked:
        return plan(
            "frames",
            asked,
            "; ".join(filter(None, [refused, f"all {asked} frames fit the {budget}-token budget"])),
        )
    return plan(
        "storyboard",
        asked,
        "; ".join(
            filter(
                None,
                [
                    refused if mode == "auto" else reason,
                    f"{fit} of {asked} frames would fit the {budget}-token budget as separate images, all "
                    f"{asked} fit tiled",
                ],
            )
        ),
    )


def _frames(count: int, noun: str = "frame") -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _sampled(strategy: str, *, chosen: int, slots: int, duration_s: float) -> str:
    """ "8 frames, one from each 0.8 s of it": how the frames were picked, as the agent can check it
    against their moments. An evenly sampled frame is the keyframe (or the exact frame) inside its
    equal slice of the recording, so the moments themselves are not evenly spaced ("00:00.0,
    00:00.7, 00:02.0"): the slices are."""
    if strategy == "even" and chosen == slots > 1 and duration_s > 0:
        return f"{_frames(chosen)}, one from each {duration_s / slots:.1f} s of it"
    return f"{_frames(chosen)} " + {
        "even": "sampled evenly",
        "scene": "sampled at scene changes",
        "dedup": "sampled with near-duplicates dropped",
    }.get(strategy, f"sampled ({strategy})")


def _fit_height(width: int, height: int, *, max_height: int) -> tuple[int, int]:
    """transcode_for_model's output size: height <= max_height, both even, aspect kept."""
    scale = min(1.0, max_height / max(1, height))
    out_h = max(2, int(height * scale) // 2 * 2)
    return max(2, round(width * out_h / max(1, height) / 2) * 2), out_h


def _thumb(data: bytes, *, side: int) -> RenditionOut:
    thumb = image_adapter.thumbnail(data, side=side)
    return RenditionOut(
        kind="THUMB",
        data=thumb.data,
        mime=thumb.mime,
        extension=thumb.extension,
        width=thumb.width,
        height=thumb.height,
    )


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


def _frame_renditions(
    frames: list[Frame], *, kind: Literal["FRAME", "STORYBOARD"] = "FRAME"
) -> list[RenditionOut]:
    """Sampled frames (or storyboard sheets, which are frames too) as numbered renditions."""
    return [
        RenditionOut(
            kind=kind,
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
