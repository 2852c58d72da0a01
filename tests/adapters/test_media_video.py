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
from triage.adapters.media.phash import dhash, hamming
from triage.adapters.media.video import (
    STRATEGIES,
    TRANSIENT_ERRORS,
    ffmpeg_exe,
    format_timestamp,
    probe_video,
    sample_frames,
    transcode_for_model,
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
    assert stamps[0] >= 0 and stamps[-1] < probe.duration_s * 1000
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
    # one frame from each half-second slice: the keyframe in it (the first) or its start, decoded
    assert [frame.timestamp_ms for frame in frames] == [0, 500, 1000, 1500]


def test_frames_are_never_upscaled(videos: dict[str, Path]):
    probe = probe_video(videos["mp4"], timeout_s=TIMEOUT)
    frames = sample_frames(videos["mp4"], probe=probe, count=1, max_side=1280, timeout_s=TIMEOUT)
    assert (frames[0].width, frames[0].height) == (320, 240)


def test_frames_of_a_long_video_come_one_from_each_slice_with_their_true_moment(timecoded: Path):
    # Keyframes are 10 s apart, slices 7.5 s: a slice with a keyframe gets that keyframe, one
    # without gets its middle moment decoded exactly. Either way the recorded moment is the one the
    # picture shows (the bar), one frame per slice.
    probe = probe_video(timecoded, timeout_s=TIMEOUT)
    assert probe.duration_s == pytest.approx(60.0, abs=0.3)
    frames = sample_frames(timecoded, probe=probe, count=8, max_side=320, timeout_s=TIMEOUT)
    stamps = [frame.timestamp_ms for frame in frames]
    assert len(stamps) == 8
    slice_ms = probe.duration_s * 1000 / 8
    assert [int(stamp // slice_ms) for stamp in stamps] == list(range(8))
    # slices holding the keyframe before their middle take it: 3750 -> 0, 11250 -> 10000 ...
    assert {0, 10000, 30000, 40000} <= set(stamps)
    for frame in frames:
        shown = samples.bar_time(frame.data, seconds=60.0)
        assert shown == pytest.approx(frame.timestamp_ms / 1000, abs=1.0)  # the bar reads to ~0.5 s


def test_a_recording_with_a_single_keyframe_still_gives_each_moment(video_dir: Path):
    # Browsers' MediaRecorder may write one keyframe for a whole recording: no keyframe serves
    # the later slices, so they are decoded exactly and the frames still differ.
    path = samples.timecoded_video(video_dir, seconds=20.0, fps=5, gop_s=30.0)
    probe = probe_video(path, timeout_s=TIMEOUT)
    frames = sample_frames(path, probe=probe, count=4, max_side=320, timeout_s=TIMEOUT)
    assert [frame.timestamp_ms for frame in frames] == [0, 5000, 10000, 15000]  # each slice's start
    for frame in frames:
        shown = samples.bar_time(frame.data, seconds=20.0)
        assert shown == pytest.approx(frame.timestamp_ms / 1000, abs=1.0)


def test_a_frame_at_the_end_of_an_mpeg_stream_is_found_by_starting_earlier(videos: dict[str, Path]):
    # MPEG-PS/TS have no index: seeking into the last GOP yields nothing. The exact grab must still
    # return that moment's frame (by starting earlier), not nothing or a copy of the first frame.
    import time

    from triage.adapters.media.video import _grab, _jpeg_output

    path = videos["mpeg"]
    probe = probe_video(path, timeout_s=TIMEOUT)
    deadline = time.monotonic() + TIMEOUT
    late = _grab(
        path,
        demuxer="mpeg",
        at_ms=int(probe.duration_s * 1000) - 300,
        output=_jpeg_output(320),
        deadline=deadline,
        timeout_s=TIMEOUT,
    )
    first = _grab(
        path, demuxer="mpeg", at_ms=0, output=_jpeg_output(320), deadline=deadline, timeout_s=TIMEOUT
    )
    assert late and first and late != first
    frames = sample_frames(path, probe=probe, count=2, max_side=320, timeout_s=TIMEOUT)
    assert len(frames) == 2 and frames[0].data != frames[1].data


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


@pytest.fixture
def ffmpeg_calls(monkeypatch) -> list[tuple[list[str], dict[str, object]]]:
    """Every subprocess.run the video adapter makes, recorded and then run for real."""
    calls: list[tuple[list[str], dict[str, object]]] = []
    real_run = subprocess.run

    def spy(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
        calls.append((args, kwargs))
        return real_run(args, **kwargs)  # type: ignore[call-overload, no-any-return]

    monkeypatch.setattr(video_adapter.subprocess, "run", spy)
    return calls


def test_every_ffmpeg_call_is_sandboxed_and_bounded(videos: dict[str, Path], tmp_path: Path, ffmpeg_calls):
    calls = ffmpeg_calls
    probe = probe_video(videos["mpeg"], timeout_s=TIMEOUT)
    sample_frames(videos["mpeg"], probe=probe, count=3, max_side=160, timeout_s=TIMEOUT)
    transcode_for_playback(videos["mpeg"], tmp_path / "out.mp4", probe=probe, timeout_s=TIMEOUT)
    assert len(calls) >= 5
    for args, kwargs in calls:
        assert "-nostdin" in args
        assert kwargs.get("timeout") and float(kwargs["timeout"]) <= TIMEOUT  # type: ignore[arg-type]
        assert args.count("-i") == 1
        i = args.index("-i")
        options = _input_options(args[:i])
        assert options["-protocol_whitelist"] == "file"
        # the demuxer is forced from our sniff, never guessed by ffmpeg
        assert options["-f"] in ("mpeg", "mov", "mpegts", "avi", "flv", "matroska", "asf")
        assert args[i + 1].startswith("file:")


def _input_options(head: list[str]) -> dict[str, str | None]:
    """The options before -i (ffmpeg-python writes them sorted by name), as a dict."""
    assert head[:3] == [ffmpeg_exe(), "-nostdin", "-hide_banner"]
    options: dict[str, str | None] = {}
    rest = head[3:]
    while rest:
        name = rest.pop(0)
        assert name.startswith("-"), head
        options[name] = None if name == "-noaccurate_seek" else rest.pop(0)
    return options


def test_a_command_line_is_built_by_ffmpeg_python(tmp_path: Path):
    """The keyframe grab, the most optioned command: input options before -i, output after it."""
    src = tmp_path / "a b.mp4"
    source = video_adapter._input(src, demuxer="mov", skip_frame="nokey", noaccurate_seek=None, ss="1.500")
    frame = video_adapter.ffmpeg.output(
        source["V:0"], "pipe:1", fps_mode="passthrough", **{"frames:v": 1}, **video_adapter._jpeg_output(320)
    )
    assert video_adapter._command(frame) == [
        ffmpeg_exe(), "-nostdin", "-hide_banner",
        "-f", "mov", "-noaccurate_seek", "-protocol_whitelist", "file", "-skip_frame", "nokey", "-ss", "1.500",
        "-i", f"file:{src}",
        "-map", "0:V:0", "-f", "image2pipe", "-c:v", "mjpeg", "-fflags", "+bitexact", "-flags:v", "+bitexact",
        "-fps_mode", "passthrough", "-frames:v", "1", "-q:v", "3",
        "-vf", "scale=w='min(320,iw)':h='min(320,ih)':force_original_aspect_ratio=decrease:out_range=full",
        "pipe:1",
    ]  # fmt: skip


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


# ---------------------------------------------------------------- strategies, model input

SLIDES = ("page", "dialog", "list", "blank")


@pytest.fixture(scope="session")
def clicked_through(video_dir: Path) -> Path:
    """12 s: a page until 4.4 s, an error dialog for 0.8 s, then a list page (5 fps, GOP 2 s)."""
    slides = [
        (4.4, samples.slide_image("page")),
        (0.8, samples.slide_image("dialog")),
        (6.8, samples.slide_image("list")),
    ]
    return samples.slides_video(video_dir, slides, name="clicked-through")


@pytest.fixture(scope="session")
def still(video_dir: Path) -> Path:
    """12 s of one unchanging page."""
    return samples.slides_video(video_dir, [(12.0, samples.slide_image("page"))], name="still")


@pytest.fixture(scope="session")
def three_pages(video_dir: Path) -> Path:
    """12 s: page, dialog, list, 4 s each."""
    slides = [(4.0, samples.slide_image(kind)) for kind in ("page", "dialog", "list")]
    return samples.slides_video(video_dir, slides, name="three-pages")


def _shows(frame_jpeg: bytes) -> str:
    """Which slide a frame shows: the nearest by mean pixel difference at a small size."""
    with Image.open(io.BytesIO(frame_jpeg)) as img:
        small = img.convert("L").resize((64, 48))
    distances = {}
    for kind in SLIDES:
        ref = samples.slide_image(kind).convert("L").resize((64, 48))
        distances[kind] = sum(abs(a - b) for a, b in zip(small.tobytes(), ref.tobytes(), strict=True))
    return min(distances, key=distances.__getitem__)


class _FfmpegCounter:
    """Counts ffmpeg runs through video._run, the one place every ffmpeg process starts."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[list[str]] = []
        real = video_adapter._run

        def counting(args: list[str], *, timeout_s: float) -> subprocess.CompletedProcess[bytes]:
            self.calls.append(args)
            return real(args, timeout_s=timeout_s)

        monkeypatch.setattr(video_adapter, "_run", counting)


def test_the_strategies_are_named():
    assert STRATEGIES == ("even", "scene", "dedup")


def test_an_unknown_strategy_is_a_programming_error(videos: dict[str, Path]):
    probe = probe_video(videos["mp4"], timeout_s=TIMEOUT)
    with pytest.raises(ValueError, match="unknown frame strategy 'best'"):
        sample_frames(videos["mp4"], probe=probe, count=2, max_side=160, timeout_s=TIMEOUT, strategy="best")


def test_scene_frames_come_from_the_moments_the_screen_changes(clicked_through: Path):
    probe = probe_video(clicked_through, timeout_s=TIMEOUT)
    frames = sample_frames(
        clicked_through, probe=probe, count=3, max_side=320, timeout_s=TIMEOUT, strategy="scene"
    )
    # 9 candidates 1.33 s apart from 0.67 s: the first, then the dialog's and the list's first ones
    assert [frame.timestamp_ms for frame in frames] == [666, 4666, 6000]
    assert [_shows(frame.data) for frame in frames] == ["page", "dialog", "list"]
    assert all(max(frame.width, frame.height) <= 320 for frame in frames)
    assert all(frame.mime == "image/jpeg" for frame in frames)


def test_even_frames_miss_a_short_dialog_that_scene_frames_catch(clicked_through: Path):
    probe = probe_video(clicked_through, timeout_s=TIMEOUT)
    frames = sample_frames(clicked_through, probe=probe, count=3, max_side=320, timeout_s=TIMEOUT)
    assert "dialog" not in [_shows(frame.data) for frame in frames]  # 2 s, 6 s, 10 s


def test_scene_returns_count_frames_sorted_by_time(timecoded: Path):
    probe = probe_video(timecoded, timeout_s=TIMEOUT)
    frames = sample_frames(timecoded, probe=probe, count=5, max_side=320, timeout_s=TIMEOUT, strategy="scene")
    stamps = [frame.timestamp_ms for frame in frames]
    assert len(frames) == 5 and stamps == sorted(set(stamps))
    for frame in frames:  # each frame is the moment it claims to be
        assert samples.bar_time(frame.data, seconds=60.0) == pytest.approx(frame.timestamp_ms / 1000, abs=1.0)


def test_scene_on_a_still_recording_spreads_its_frames_evenly(still: Path):
    probe = probe_video(still, timeout_s=TIMEOUT)
    frames = sample_frames(still, probe=probe, count=3, max_side=320, timeout_s=TIMEOUT, strategy="scene")
    # nothing changed: the first, last and middle candidates, not the first three
    assert [frame.timestamp_ms for frame in frames] == [666, 6000, 11333]


def test_scene_cost_follows_the_frame_count_not_the_duration(
    clicked_through: Path, timecoded: Path, monkeypatch: pytest.MonkeyPatch
):
    probes = {path: probe_video(path, timeout_s=TIMEOUT) for path in (clicked_through, timecoded)}
    counter = _FfmpegCounter(monkeypatch)
    runs = {}
    for path, probe in probes.items():  # 12 s and 60 s
        for count in (2, 4):
            counter.calls.clear()
            sample_frames(path, probe=probe, count=count, max_side=160, timeout_s=TIMEOUT, strategy="scene")
            runs[path, count] = len(counter.calls)
    # 3 thumbnails per frame plus the frame itself: one ffmpeg each, whatever the length
    assert runs == {
        (clicked_through, 2): 8,
        (clicked_through, 4): 16,
        (timecoded, 2): 8,
        (timecoded, 4): 16,
    }
    thumbs = [args for args in counter.calls if "rawvideo" in args]
    assert len(thumbs) == 12
    assert all(args.index("-ss") < args.index("-i") for args in thumbs)  # input seeking


def test_dedup_keeps_one_frame_of_a_still_recording(still: Path):
    probe = probe_video(still, timeout_s=TIMEOUT)
    frames = sample_frames(still, probe=probe, count=8, max_side=320, timeout_s=TIMEOUT, strategy="dedup")
    assert len(frames) == 1
    assert frames[0].timestamp_ms < probe.duration_s * 1000 / 8  # the first of the eight


def test_dedup_keeps_distinct_screens(three_pages: Path):
    probe = probe_video(three_pages, timeout_s=TIMEOUT)
    frames = sample_frames(
        three_pages, probe=probe, count=6, max_side=320, timeout_s=TIMEOUT, strategy="dedup"
    )
    # one frame from each 2 s slice shows page, page, dialog, dialog, list, list
    assert [int(frame.timestamp_ms // 2000) for frame in frames] == [0, 2, 4]
    assert [_shows(frame.data) for frame in frames] == ["page", "dialog", "list"]


def test_dedup_threshold_zero_still_drops_identical_screens_only(three_pages: Path):
    probe = probe_video(three_pages, timeout_s=TIMEOUT)
    even = sample_frames(three_pages, probe=probe, count=6, max_side=320, timeout_s=TIMEOUT)
    loose = sample_frames(
        three_pages,
        probe=probe,
        count=6,
        max_side=320,
        timeout_s=TIMEOUT,
        strategy="dedup",
        dedup_threshold=64,
    )
    assert len(even) == 6
    assert len(loose) == 1  # every hash is within 64 bits: only the first frame survives


def test_dhash_ignores_compression_and_sees_layout():
    page = samples.slide_image("page")
    sharp, blurry = io.BytesIO(), io.BytesIO()
    page.save(sharp, format="PNG")
    page.save(blurry, format="JPEG", quality=20)
    other = io.BytesIO()
    samples.slide_image("list").save(other, format="PNG")
    assert hamming(dhash(sharp.getvalue()), dhash(blurry.getvalue())) <= 4
    assert hamming(dhash(sharp.getvalue()), dhash(other.getvalue())) > 16
    assert 0 <= dhash(other.getvalue()) < 2**64


@pytest.mark.parametrize(
    ("ms", "text"),
    [(0, "00:00:00"), (999, "00:00:00"), (83_000, "00:01:23"), (3_723_500, "01:02:03"), (-5, "00:00:00")],
)
def test_format_timestamp(ms: int, text: str):
    assert format_timestamp(ms) == text


def test_the_model_gets_a_small_h264_at_a_low_frame_rate(video_dir: Path, tmp_path: Path):
    src = samples.video_file(video_dir, "webm", seconds=2.0, size=(640, 360), fps=25)
    dst = tmp_path / "model.mp4"
    video = transcode_for_model(src, dst, max_height=240, fps=2.0, timeout_s=TIMEOUT)
    out = probe_video(dst, timeout_s=TIMEOUT)
    assert out.codec == "h264" and out.container == "mov"
    assert (video.width, video.height) == (out.width, out.height)
    assert video.height <= 240 and video.width % 2 == 0 and video.height % 2 == 0
    assert video.width == pytest.approx(240 * 640 / 360, abs=2)
    assert video.mime == "video/mp4" and video.size_bytes == dst.stat().st_size > 0
    info = _stream_info(dst)
    fps = re.search(r"(\d+(?:\.\d+)?) fps", info)
    assert fps is not None and float(fps.group(1)) <= 2.0
    assert "Audio:" not in info
    data = dst.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # +faststart


def test_the_model_video_is_never_upscaled_nor_sped_up(video_dir: Path, tmp_path: Path):
    src = samples.video_file(video_dir, "mp4", seconds=1.0, fps=1, audio=False, name="slow")
    video = transcode_for_model(src, tmp_path / "model.mp4", timeout_s=TIMEOUT)  # 1080, 2 fps
    assert (video.width, video.height) == (320, 240)
    fps = re.search(r"(\d+(?:\.\d+)?) fps", _stream_info(tmp_path / "model.mp4"))
    assert fps is not None and float(fps.group(1)) <= 1.0


def test_strategies_and_model_transcode_are_sandboxed(
    clicked_through: Path, tmp_path: Path, ffmpeg_calls: list[tuple[list[str], dict[str, object]]]
):
    calls = ffmpeg_calls
    probe = probe_video(clicked_through, timeout_s=TIMEOUT)
    for strategy in ("scene", "dedup"):
        sample_frames(
            clicked_through, probe=probe, count=2, max_side=160, timeout_s=TIMEOUT, strategy=strategy
        )
    transcode_for_model(clicked_through, tmp_path / "model.mp4", timeout_s=TIMEOUT)
    assert len(calls) >= 12
    for args, kwargs in calls:
        assert "-nostdin" in args
        assert kwargs.get("timeout") and float(kwargs["timeout"]) <= TIMEOUT  # type: ignore[arg-type]
        i = args.index("-i")
        options = _input_options(args[:i])
        assert options["-protocol_whitelist"] == "file" and options["-f"] == "mov"
        assert args[i + 1].startswith("file:")
