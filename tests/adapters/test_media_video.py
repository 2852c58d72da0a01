from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from tests import media_samples as samples
from triage.adapters.media import MediaRejected, VideoProbe
from triage.adapters.media import video as video_adapter
from triage.adapters.media.video import (
    TRANSIENT_ERRORS,
    ffmpeg_exe,
    probe_video,
    sample_frames,
    transcode_for_playback,
)

TIMEOUT = 30.0
CONTAINERS = list(samples.VIDEO_CONTAINERS)
CODECS = {
    "mp4": "h264",
    "mov": "h264",
    "mpeg": "mpeg2video",
    "ts": "h264",
    "avi": "mpeg4",
    "flv": "flv1",
    "webm": "vp8",
    "mkv": "h264",
    "wmv": "wmv2",
    "3gp": "h263",
}


@pytest.fixture(scope="session")
def video_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("videos")


@pytest.fixture(scope="session")
def videos(video_dir: Path) -> dict[str, Path]:
    """One 2 s 320x240 clip with sound per container, encoded once per test session (~0.6 s)."""
    return {container: samples.video_file(video_dir, container, seconds=2.0) for container in CONTAINERS}


@pytest.fixture(scope="session")
def timecoded(video_dir: Path) -> Path:
    """60 s whose frames show their own time; keyframes only every 10 s."""
    return samples.timecoded_video(video_dir, seconds=60.0, fps=5, gop_s=10.0)


def _stream_info(path: Path) -> str:
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
        capture_output=True,
        timeout=10,
        check=False,
    )
    return result.stderr.decode(errors="replace")


@pytest.mark.parametrize("container", CONTAINERS)
def test_every_container_is_probed(videos: dict[str, Path], container: str):
    probe = probe_video(videos[container], timeout_s=TIMEOUT)
    assert probe.duration_s == pytest.approx(2.0, abs=0.15)
    expected = (176, 144) if container == "3gp" else (320, 240)
    assert (probe.width, probe.height) == expected
    assert probe.codec == CODECS[container]
    assert probe.rotation == 0
    assert probe.container in {"mov", "mpeg", "mpegts", "avi", "flv", "matroska", "asf"}


@pytest.mark.parametrize("container", CONTAINERS)
def test_every_container_is_sampled(videos: dict[str, Path], container: str):
    probe = probe_video(videos[container], timeout_s=TIMEOUT)
    frames = sample_frames(videos[container], probe=probe, count=4, max_side=160, timeout_s=TIMEOUT)
    assert len(frames) == 4
    stamps = [frame.timestamp_ms for frame in frames]
    assert stamps == sorted(set(stamps))
    assert stamps[0] > 0 and stamps[-1] < probe.duration_s * 1000
    assert len({frame.data for frame in frames}) == 4  # a moving picture: four different frames
    for frame in frames:
        assert frame.mime == "image/jpeg" and frame.extension == "jpg"
        with Image.open(io.BytesIO(frame.data)) as img:
            img.load()
            assert img.format == "JPEG" and img.size == (frame.width, frame.height)
        assert max(frame.width, frame.height) <= 160


def test_frames_are_evenly_spaced_over_the_duration(videos: dict[str, Path]):
    probe = probe_video(videos["mp4"], timeout_s=TIMEOUT)
    frames = sample_frames(videos["mp4"], probe=probe, count=4, max_side=640, timeout_s=TIMEOUT)
    assert [frame.timestamp_ms for frame in frames] == [250, 750, 1250, 1750]  # (i + 0.5) * 2000 / 4


def test_frames_are_never_upscaled(videos: dict[str, Path]):
    probe = probe_video(videos["mp4"], timeout_s=TIMEOUT)
    frames = sample_frames(videos["mp4"], probe=probe, count=1, max_side=1280, timeout_s=TIMEOUT)
    assert (frames[0].width, frames[0].height) == (320, 240)


def test_frames_of_a_long_video_come_from_the_requested_moments(timecoded: Path):
    # One seek per frame, not a decode of the whole minute: each frame must show its own time
    # even though keyframes are 10 s apart.
    probe = probe_video(timecoded, timeout_s=TIMEOUT)
    assert probe.duration_s == pytest.approx(60.0, abs=0.3)
    frames = sample_frames(timecoded, probe=probe, count=8, max_side=320, timeout_s=TIMEOUT)
    assert [frame.timestamp_ms for frame in frames] == [int((i + 0.5) * 7500) for i in range(8)]
    for frame in frames:
        shown = samples.bar_time(frame.data, seconds=60.0)
        assert shown == pytest.approx(frame.timestamp_ms / 1000, abs=1.0)  # the bar reads to ~0.5 s


def test_a_frame_at_the_end_of_an_mpeg_stream_is_found_by_starting_earlier(videos: dict[str, Path]):
    # MPEG-PS/TS have no index: seeking into the last GOP yields nothing. The sampler must still
    # return that moment's frame, not a copy of the first frame.
    path = videos["mpeg"]
    probe = probe_video(path, timeout_s=TIMEOUT)
    frames = sample_frames(path, probe=probe, count=2, max_side=320, timeout_s=TIMEOUT)
    assert [frame.timestamp_ms for frame in frames] == [502, 1507]
    assert frames[0].data != frames[1].data


@pytest.mark.parametrize(("display_rotation", "rotation"), [(90, 270), (-90, 90), (180, 180)])
def test_rotation_metadata_gives_the_displayed_size(video_dir: Path, display_rotation: int, rotation: int):
    path = samples.video_file(video_dir, "mp4", seconds=1.0, rotate=display_rotation, audio=False)
    probe = probe_video(path, timeout_s=TIMEOUT)
    assert probe.rotation == rotation  # clockwise, like the "rotate" tag phones write
    portrait = rotation in (90, 270)
    assert (probe.width, probe.height) == ((240, 320) if portrait else (320, 240))
    frames = sample_frames(path, probe=probe, count=1, max_side=640, timeout_s=TIMEOUT)
    assert (frames[0].width, frames[0].height) == (probe.width, probe.height)  # ffmpeg auto-rotates


def test_a_mediarecorder_webm_without_duration_gets_one(video_dir: Path):
    path = samples.mediarecorder_webm(video_dir, seconds=2.0)
    assert "Duration: N/A" in _stream_info(path)
    probe = probe_video(path, timeout_s=TIMEOUT)
    assert probe.duration_s == pytest.approx(2.0, abs=0.15)
    assert probe.codec == "vp8"
    assert len(sample_frames(path, probe=probe, count=3, max_side=320, timeout_s=TIMEOUT)) == 3


def test_a_sub_second_clip_still_yields_a_frame(video_dir: Path):
    path = samples.video_file(video_dir, "mp4", seconds=0.3, audio=False)
    probe = probe_video(path, timeout_s=TIMEOUT)
    frames = sample_frames(path, probe=probe, count=8, max_side=320, timeout_s=TIMEOUT)
    assert 1 <= len(frames) <= 3  # 3 frames at 10 fps: never 8 copies of the same picture
    assert len({frame.data for frame in frames}) == len(frames)
    assert all(0 <= frame.timestamp_ms < 300 for frame in frames)


def test_a_single_frame_video_yields_that_frame(video_dir: Path):
    path = samples.video_file(video_dir, "mp4", seconds=0.1, audio=False)
    probe = probe_video(path, timeout_s=TIMEOUT)
    frames = sample_frames(path, probe=probe, count=8, max_side=320, timeout_s=TIMEOUT)
    assert len(frames) == 1


def test_a_truncated_video_is_rejected_with_a_reason(videos: dict[str, Path], tmp_path: Path):
    path = tmp_path / "cut.mp4"
    path.write_bytes(samples.truncated(videos["mp4"].read_bytes(), keep=0.5))  # the index is at the end
    with pytest.raises(MediaRejected) as err:
        probe_video(path, timeout_s=TIMEOUT)
    assert err.value.reason.startswith("could not read the recording: ")
    assert len(err.value.reason) < 220 and "\n" not in err.value.reason
    assert str(tmp_path) not in err.value.reason


def test_a_video_whose_frames_are_gone_is_rejected(videos: dict[str, Path], tmp_path: Path):
    # a faststart file: the header and index survive, the picture data does not
    src = tmp_path / "faststart.mp4"
    subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-i", str(videos["mp4"]), "-c", "copy"]
        + ["-movflags", "+faststart", str(src)],
        timeout=10,
        check=True,
    )
    data = src.read_bytes()
    mdat = data.index(b"mdat")
    path = tmp_path / "headless.mp4"
    path.write_bytes(data[: mdat + 64])
    with pytest.raises(MediaRejected, match="^could not read the recording"):
        probe_video(path, timeout_s=TIMEOUT)


def test_an_audio_only_file_is_rejected(video_dir: Path):
    path = samples.video_file(video_dir, "mp4", audio_only=True)
    with pytest.raises(MediaRejected, match="^the file has no video stream$"):
        probe_video(path, timeout_s=TIMEOUT)


def test_an_image_is_not_a_recording(tmp_path: Path):
    path = tmp_path / "shot.mp4"
    path.write_bytes(samples.image_bytes("PNG"))
    with pytest.raises(MediaRejected, match="not a recording"):
        probe_video(path, timeout_s=TIMEOUT)


@pytest.mark.parametrize(
    "data", [samples.M3U8, b"ffconcat version 1.0\nfile '/etc/passwd'\n"], ids=["hls", "concat"]
)
def test_a_playlist_is_never_handed_to_ffmpeg(tmp_path: Path, monkeypatch, data: bytes):
    calls: list[list[str]] = []
    monkeypatch.setattr(video_adapter.subprocess, "run", lambda args, **kw: calls.append(args))
    path = tmp_path / "recording.mp4"
    path.write_bytes(data)
    with pytest.raises(MediaRejected, match="not a supported screenshot or recording"):
        probe_video(path, timeout_s=TIMEOUT)
    assert calls == []


def test_a_timeout_is_rejected_with_a_readable_reason(videos: dict[str, Path], monkeypatch):
    def hang(args: list[str], **kwargs: object) -> None:
        raise subprocess.TimeoutExpired(args, kwargs["timeout"])  # type: ignore[arg-type]

    monkeypatch.setattr(video_adapter.subprocess, "run", hang)
    with pytest.raises(MediaRejected, match="^processing the recording took longer than 7 s$"):
        probe_video(videos["mp4"], timeout_s=7)


def test_the_timeout_bounds_the_whole_sampling_call(videos: dict[str, Path]):
    probe = probe_video(videos["mp4"], timeout_s=TIMEOUT)
    with pytest.raises(MediaRejected, match="took longer than"):
        sample_frames(videos["mp4"], probe=probe, count=8, max_side=320, timeout_s=0.0)


def test_every_ffmpeg_call_is_sandboxed_and_bounded(videos: dict[str, Path], tmp_path: Path, monkeypatch):
    calls: list[tuple[list[str], dict[str, object]]] = []
    real_run = subprocess.run

    def spy(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
        calls.append((args, kwargs))
        return real_run(args, **kwargs)  # type: ignore[call-overload, no-any-return]

    monkeypatch.setattr(video_adapter.subprocess, "run", spy)
    probe = probe_video(videos["mpeg"], timeout_s=TIMEOUT)
    sample_frames(videos["mpeg"], probe=probe, count=3, max_side=160, timeout_s=TIMEOUT)
    transcode_for_playback(videos["mpeg"], tmp_path / "out.mp4", probe=probe, timeout_s=TIMEOUT)
    assert len(calls) >= 5
    for args, kwargs in calls:
        assert "-nostdin" in args
        assert kwargs.get("timeout") and float(kwargs["timeout"]) <= TIMEOUT  # type: ignore[arg-type]
        i = args.index("-i")
        assert args[i - 2 : i] == ["-protocol_whitelist", "file"]
        assert args[i - 4] == "-f"  # the demuxer is forced from our sniff, never guessed by ffmpeg
        assert args[i + 1].startswith("file:")


def test_transcoding_gives_an_h264_mp4_a_browser_plays(videos: dict[str, Path], tmp_path: Path):
    probe = probe_video(videos["wmv"], timeout_s=TIMEOUT)
    dst = tmp_path / "playback.mp4"
    playback = transcode_for_playback(videos["wmv"], dst, probe=probe, timeout_s=TIMEOUT)
    assert playback.mime == "video/mp4"
    assert (playback.width, playback.height) == (320, 240)
    assert playback.size_bytes == dst.stat().st_size > 0
    out = probe_video(dst, timeout_s=TIMEOUT)
    assert out.codec == "h264" and out.container == "mov"
    assert out.duration_s == pytest.approx(probe.duration_s, abs=0.2)
    info = _stream_info(dst)
    assert "yuv420p" in info and "Audio: aac" in info
    data = dst.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # +faststart: playback starts before the download ends


def test_transcoding_caps_size_and_frame_rate_and_evens_dimensions(video_dir: Path, tmp_path: Path):
    src = samples.video_file(video_dir, "mkv", seconds=1.0, size=(1501, 843), fps=60, audio=False)
    probe = probe_video(src, timeout_s=TIMEOUT)
    playback = transcode_for_playback(src, tmp_path / "out.mp4", probe=probe, timeout_s=TIMEOUT)
    assert playback.width == 1280 and playback.height % 2 == 0
    assert playback.height == pytest.approx(1280 * 843 / 1501, abs=2)
    fps = re.search(r"(\d+(?:\.\d+)?) fps", _stream_info(tmp_path / "out.mp4"))
    assert fps is not None and float(fps.group(1)) <= 30


def test_transcoding_applies_rotation(video_dir: Path, tmp_path: Path):
    src = samples.video_file(video_dir, "mp4", seconds=1.0, rotate=-90, audio=False)
    probe = probe_video(src, timeout_s=TIMEOUT)
    playback = transcode_for_playback(src, tmp_path / "out.mp4", probe=probe, timeout_s=TIMEOUT)
    assert (playback.width, playback.height) == (240, 320)
    assert probe_video(tmp_path / "out.mp4", timeout_s=TIMEOUT).rotation == 0  # upright pixels


def test_only_resource_exhaustion_is_worth_a_retry():
    assert all(issubclass(error, BaseException) for error in TRANSIENT_ERRORS)
    assert MediaRejected not in TRANSIENT_ERRORS
    assert not any(issubclass(MediaRejected, error) for error in TRANSIENT_ERRORS)


def test_a_probe_is_a_plain_value():
    probe = VideoProbe(duration_s=1.0, width=2, height=2, codec="h264", rotation=0, container="mov")
    with pytest.raises(AttributeError):
        probe.width = 3  # type: ignore[misc]
