from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from tests import media_samples as samples
from triage.adapters.media import ImageLimits, SniffResult, pipeline
from triage.adapters.media import images as image_adapter
from triage.adapters.media.pipeline import MediaConfig, process_media
from triage.adapters.media.sniff import sniff
from triage.adapters.media.tokens import estimate_image_tokens, estimate_video_tokens
from triage.adapters.media.video import probe_video

CONFIG = MediaConfig(
    image_limits=ImageLimits(max_pixels=16384 * 14 * 14, max_side=4096, max_source_pixels=60_000_000),
    frames=6,
    frame_max_side=320,
    ffmpeg_timeout_s=60,
    video_max_duration_s=600,
    frame_strategy="even",
    media_token_budget=20_000,
)


def _run(path: Path, config: MediaConfig = CONFIG):
    return process_media(path, sniff=sniff(path.read_bytes()[:8192]), config=config)


@pytest.fixture
def shot(tmp_path: Path) -> Path:
    path = tmp_path / "shot.png"
    path.write_bytes(samples.image_bytes("PNG", size=(2880, 1800)))
    return path


def test_a_screenshot_becomes_one_normalized_image_with_its_token_estimate(shot: Path):
    result = _run(shot)
    assert result.accepted and result.representation == "image"
    image, thumb = result.renditions
    assert image.kind == "IMAGE" and image.mime == "image/png" and image.data
    assert thumb.kind == "THUMB" and thumb.mime == "image/jpeg" and max(thumb.width, thumb.height) == 320
    assert thumb.width / thumb.height == pytest.approx(2880 / 1800, rel=0.02)
    assert (result.source_width, result.source_height) == (2880, 1800)
    assert result.token_estimate == estimate_image_tokens(image.width, image.height)
    assert "still image" in result.why


def test_a_recording_becomes_frames_and_a_playback_copy_when_browsers_cannot_play_it(tmp_path: Path):
    avi = samples.video_file(tmp_path, "avi", seconds=3)
    result = _run(avi)
    assert result.accepted, result.reason
    assert result.representation == "frames" and result.strategy == "even"
    frames = [r for r in result.renditions if r.kind == "FRAME"]
    assert [f.index for f in frames] == list(range(len(frames))) and len(frames) == 6
    assert [r.kind for r in result.renditions].count("PLAYBACK") == 1
    assert [r.kind for r in result.renditions].count("THUMB") == 1
    assert result.token_estimate == sum(estimate_image_tokens(f.width, f.height) for f in frames)
    assert result.probe is not None and result.duration_s == pytest.approx(3, abs=0.4)
    assert result.metadata()["representation"] == "frames"


def test_a_browser_playable_recording_gets_no_playback_copy(tmp_path: Path):
    result = _run(samples.video_file(tmp_path, "mp4", seconds=2))
    assert result.accepted and {r.kind for r in result.renditions} == {"FRAME", "THUMB"}


def _config(**changes) -> MediaConfig:
    return MediaConfig(**{**CONFIG.__dict__, **changes})


def test_frames_are_cut_to_fit_the_token_budget_and_the_reason_says_so(tmp_path: Path):
    mp4 = samples.video_file(tmp_path, "mp4", seconds=3, size=(640, 480))
    per_frame = estimate_image_tokens(320, 240)
    result = _run(mp4, _config(media_token_budget=per_frame * 2 + 1, representation="frames"))
    assert result.accepted and result.representation == "frames"
    assert result.frames_chosen == 2 and [r.kind for r in result.renditions].count("FRAME") == 2
    assert result.token_estimate <= per_frame * 2 + 1
    assert "2 of 6 frames" in result.why and "budget" in result.why


def test_at_least_one_frame_is_kept_however_small_the_budget(tmp_path: Path):
    mp4 = samples.video_file(tmp_path, "mp4", seconds=2)
    result = _run(mp4, _config(media_token_budget=1, representation="frames"))
    assert result.accepted and result.frames_chosen == 1


def test_auto_sends_separate_frames_when_all_of_them_fit(tmp_path: Path):
    result = _run(samples.video_file(tmp_path, "mp4", seconds=2), _config(representation="auto"))
    assert result.accepted and result.representation == "frames" and result.frames_chosen == 6
    assert "the model provider takes no video" in result.why
    # the slices are even, not the frames' moments (each is the keyframe inside its slice)
    assert "6 frames, one from each 0.3 s of it" in result.why, result.why
    assert result.token_options["frames"] == result.token_estimate
    assert result.metadata()["token_options"] == result.token_options


def test_auto_tiles_a_storyboard_when_the_frames_do_not_fit(tmp_path: Path):
    mp4 = samples.video_file(tmp_path, "mp4", seconds=3, size=(640, 480))
    per_frame = estimate_image_tokens(320, 240)
    result = _run(mp4, _config(media_token_budget=per_frame * 2, storyboard_max_side=640))
    assert result.accepted and result.representation == "storyboard", result.why
    [sheet] = [r for r in result.renditions if r.kind == "STORYBOARD"]
    assert 630 <= max(sheet.width, sheet.height) <= 640
    assert result.token_estimate == estimate_image_tokens(sheet.width, sheet.height)
    assert result.token_estimate < per_frame * 6  # the point of tiling
    # all six frames are still kept for the ticket page and the offline model
    assert [r.kind for r in result.renditions].count("FRAME") == 6
    assert "2 of 6 frames would fit" in result.why


def test_more_frames_than_a_sheet_holds_make_several_sheets(tmp_path: Path):
    mp4 = samples.video_file(tmp_path, "mp4", seconds=4)
    result = _run(mp4, _config(frames=12, representation="storyboard", storyboard_max_side=480))
    sheets = [r for r in result.renditions if r.kind == "STORYBOARD"]
    assert [s.index for s in sheets] == [0, 1]  # 9 + 3 tiles
    assert sheets[0].timestamp_ms < sheets[1].timestamp_ms


def test_auto_sends_a_short_recording_itself_to_a_provider_that_takes_video(tmp_path: Path):
    mp4 = samples.video_file(tmp_path, "mp4", seconds=3, size=(640, 480))
    result = _run(mp4, _config(native_video=True, native_fps=2.0))
    assert result.accepted and result.representation == "native-video", result.why
    [video] = [r for r in result.renditions if r.kind == "MODEL_VIDEO"]
    assert video.mime == "video/mp4" and video.data[4:8] == b"ftyp"
    assert (video.width, video.height) == (640, 480)
    assert result.token_estimate == estimate_video_tokens(result.duration_s, 640, 480, fps=2.0)
    assert "the video itself fits" in result.why
    probe = probe_video(_write(tmp_path / "model.mp4", video.data), timeout_s=60)
    assert probe.codec == "h264" and probe.duration_s == pytest.approx(3, abs=0.6)


def test_the_video_sent_to_the_model_is_at_most_1080p(tmp_path: Path):
    mp4 = samples.video_file(tmp_path, "mp4", seconds=1, size=(2560, 1440))
    result = _run(mp4, _config(native_video=True, representation="native", media_token_budget=10**6))
    [video] = [r for r in result.renditions if r.kind == "MODEL_VIDEO"]
    assert (video.width, video.height) == (1920, 1080)


def test_a_long_recording_is_not_sent_as_video_over_the_budget(tmp_path: Path):
    mp4 = samples.video_file(tmp_path, "mp4", seconds=3, size=(640, 480))
    native = estimate_video_tokens(3, 640, 480)
    result = _run(mp4, _config(native_video=True, representation="native", media_token_budget=native // 2))
    assert result.accepted and result.representation != "native-video"
    assert "MODEL_VIDEO" not in {r.kind for r in result.renditions}
    assert "would not fit" in result.why


def test_a_model_video_over_the_request_limit_falls_back_to_frames(tmp_path: Path):
    mp4 = samples.video_file(tmp_path, "mp4", seconds=2)
    result = _run(mp4, _config(native_video=True, native_max_bytes=100))
    assert result.accepted and result.representation == "frames"
    assert "MODEL_VIDEO" not in {r.kind for r in result.renditions}
    assert "over the" in result.why and "MB" in result.why


def test_an_unknown_representation_setting_is_a_bug_report_not_a_crash(tmp_path: Path):
    result = _run(samples.video_file(tmp_path, "mp4", seconds=1), _config(representation="hologram"))
    assert not result.accepted and result.failure_kind == "bug"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_a_too_long_recording_is_refused_with_its_probe_kept(tmp_path: Path):
    mp4 = samples.video_file(tmp_path, "mp4", seconds=3)
    result = _run(mp4, MediaConfig(**{**CONFIG.__dict__, "video_max_duration_s": 1}))
    assert not result.accepted and result.failure_kind == "bad_input"
    assert "at most" in result.reason and result.probe is not None


@pytest.mark.parametrize(
    "data", [samples.truncated(samples.image_bytes("PNG"), 0.1), samples.bomb_png(), samples.POLYGLOT_GIF_JS]
)
def test_bad_images_are_refused_not_raised(tmp_path: Path, data: bytes):
    path = tmp_path / "bad"
    path.write_bytes(data)
    result = process_media(
        path, sniff=SniffResult(kind="image", mime="image/png", extension="png"), config=CONFIG
    )
    assert not result.accepted and result.reason and result.failure_kind == "bad_input"


def test_garbage_claimed_to_be_a_video_is_refused_not_raised(tmp_path: Path):
    path = tmp_path / "bad.mp4"
    path.write_bytes(samples.TEXT)
    result = process_media(
        path, sniff=SniffResult(kind="video", mime="video/mp4", extension="mp4"), config=CONFIG
    )
    assert not result.accepted and result.failure_kind == "bad_input"


def test_an_unexpected_error_is_reported_as_internal(shot: Path, monkeypatch):
    def boom(*args, **kwargs):
        raise ZeroDivisionError

    monkeypatch.setattr(image_adapter, "normalize_image", boom)
    result = _run(shot)
    assert not result.accepted
    assert result.reason == "internal error (ZeroDivisionError)" and result.failure_kind == "bug"


def test_the_configured_strategy_is_used_and_recorded(tmp_path: Path):
    mp4 = samples.video_file(tmp_path, "mp4", seconds=2)
    result = _run(mp4, MediaConfig(**{**CONFIG.__dict__, "frame_strategy": "scene"}))
    assert result.accepted and result.strategy == "scene" and "scene" in result.why


def test_an_animation_becomes_frames(monkeypatch, tmp_path: Path):
    from triage.adapters.media import Frame

    gif = tmp_path / "a.gif"
    gif.write_bytes(samples.animated("GIF", frames=4))
    png = samples.image_bytes("PNG", size=(160, 120))
    frame = Frame(data=png, mime="image/png", extension="png", width=160, height=120, timestamp_ms=0)
    calls: list[int] = []

    def sample_animation(path, *, count, limits):
        calls.append(count)
        return [frame] * 3

    monkeypatch.setattr(image_adapter, "sample_animation", sample_animation)
    result = _run(gif)
    assert calls == [CONFIG.frames]
    assert result.accepted and result.representation == "animation-frames"
    assert [r.kind for r in result.renditions] == ["FRAME"] * 3 + ["THUMB"]
    assert result.token_estimate == 3 * estimate_image_tokens(160, 120)


def test_a_real_animated_gif_is_sampled_into_timestamped_frames(tmp_path: Path):
    gif = tmp_path / "a.gif"
    gif.write_bytes(samples.animated("GIF", frames=4))
    result = _run(gif)
    assert result.accepted and result.representation == "animation-frames"
    stamps = [r.timestamp_ms for r in result.renditions if r.kind == "FRAME"]
    assert len(stamps) >= 2 and stamps == sorted(stamps)


def test_the_pipeline_reads_no_settings():
    source = inspect.getsource(pipeline)
    assert "django" not in source and "settings" not in source.replace("settings reads", "")


def test_a_playback_copy_that_fails_leaves_the_frames_and_says_why(tmp_path: Path, monkeypatch):
    from triage.adapters.media import MediaRejected
    from triage.adapters.media import video as video_adapter

    def too_slow(*args, **kwargs):
        raise MediaRejected("processing the recording took longer than 600 s")

    monkeypatch.setattr(video_adapter, "transcode_for_playback", too_slow)
    result = _run(samples.video_file(tmp_path, "avi", seconds=2))
    assert result.accepted and [r.kind for r in result.renditions].count("FRAME") == 6
    assert "PLAYBACK" not in {r.kind for r in result.renditions}
    assert result.metadata()["playback_error"] == "processing the recording took longer than 600 s"
