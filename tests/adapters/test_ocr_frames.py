from __future__ import annotations

import io
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.ocr_recordings import SYNC_ERROR, UPLOAD_PROGRESS, Recording, draw_frame, render
from triage.adapters.media import Frame, video
from triage.adapters.ocr import OcrLine, OcrResult, RapidOcrReader
from triage.adapters.ocr_frames import CELL, changed_bands, changed_cells, read_frames, signature


def _frames(rec: Recording, tmp_path: Path, count: int) -> list[Frame]:
    """Sampled as the media pipeline samples them: evenly, as JPEG, from a real H.264 encode."""
    path = render(rec, tmp_path / "rec.mp4")
    probe = video.probe_video(path, timeout_s=60)
    return video.sample_frames(path, probe=probe, count=count, max_side=1280, timeout_s=60)


@pytest.mark.parametrize("crf", [23, 35])
def test_every_drawn_change_is_found_and_encoder_noise_is_not(tmp_path, crf):
    """Against the drawn frames (the truth), for every pair of sampled frames: each cell row where
    the drawn pictures differ lies in a band that will be read, and identical drawings (the paused
    stretch) show no changed cell, though x264 encoded them as different pictures."""
    rec = replace(SYNC_ERROR, crf=crf)
    frames = _frames(rec, tmp_path, 16)
    decoded = [Image.open(io.BytesIO(f.data)) for f in frames]
    signatures = [signature(img) for img in decoded]
    drawn = [np.asarray(draw_frame(rec, f.timestamp_ms / 1000).convert("L"), dtype=np.int16) for f in frames]
    identical_pairs = changed_pairs = 0
    for i in range(len(frames)):
        for j in range(i + 1, len(frames)):
            truth = np.abs(drawn[i] - drawn[j]) > 40
            cells = changed_cells(signatures[i], signatures[j])
            if not truth.any():
                identical_pairs += 1
                assert np.asarray(decoded[i]).tobytes() != np.asarray(decoded[j]).tobytes()  # noise is there
                assert not cells.any(), (frames[i].timestamp_ms, frames[j].timestamp_ms)
                continue
            changed_pairs += 1
            bands = changed_bands(cells, height=signatures[i].shape[0])
            for row in np.nonzero(truth.any(axis=1))[0]:
                assert any(top <= row < bottom for top, bottom in bands), (frames[i].timestamp_ms, row, bands)
    assert identical_pairs >= 1 and changed_pairs >= 20


def test_a_ticking_timecode_changes_only_its_own_band(tmp_path):
    frames = _frames(UPLOAD_PROGRESS, tmp_path, 8)
    first, second = (signature(Image.open(io.BytesIO(f.data))) for f in frames[:2])  # both before 2 s
    bands = changed_bands(changed_cells(first, second), height=first.shape[0])
    assert len(bands) == 1
    top, bottom = bands[0]
    assert top <= UPLOAD_PROGRESS.height - 60 < bottom and bottom - top <= 3 * CELL


def _distinct_lines(frames: list[Frame], results: list[OcrResult]) -> dict[str, int]:
    """Each distinct line (spaces ignored: the engine reads "[ Pay" and "[Pay" on the same
    pixels) with the moment it was first seen."""
    seen: dict[str, int] = {}
    for frame, result in zip(frames, results, strict=True):
        for line in result.lines:
            seen.setdefault("".join(line.text.split()), frame.timestamp_ms)
    return seen


@pytest.fixture(scope="module")
def reader():
    return RapidOcrReader(threads=1)


@pytest.mark.parametrize("rec", [SYNC_ERROR, UPLOAD_PROGRESS], ids=["sync-error", "upload-progress"])
def test_reading_what_changed_loses_no_line_of_reading_every_frame(tmp_path, reader, rec):
    frames = _frames(rec, tmp_path, 12)
    whole = [reader.read(f.data) for f in frames]
    incremental = read_frames([f.data for f in frames], reader=reader, concurrency=2)

    assert _distinct_lines(frames, [t.result for t in incremental]) == _distinct_lines(frames, whole)
    # the lines the recording was made with are among them, at the moment they appeared
    lines = _distinct_lines(frames, whole)
    for scene in rec.scenes:
        for text in (*scene.lines, *([scene.dialog] if scene.dialog else [])):
            key = "".join(text.split())
            assert key in lines and lines[key] <= int(scene.start_s * 1000) + 1000, (text, lines)
    modes = [t.mode for t in incremental]
    assert modes[0] == "full" and modes.count("full") <= len(frames) // 3
    assert "region" in modes


def test_identical_frames_reuse_the_text_of_the_frame_they_repeat(tmp_path, reader):
    frames = _frames(SYNC_ERROR, tmp_path, 12)
    texts = read_frames([f.data for f in frames], reader=reader, concurrency=2)
    reused = [(i, t) for i, t in enumerate(texts) if t.mode == "reused"]
    assert reused, [t.mode for t in texts]
    for i, text in reused:
        assert text.source is not None and text.source < i and texts[text.source].mode != "reused"
        assert text.result.lines == texts[text.source].result.lines
        assert 5000 <= frames[i].timestamp_ms < 6500  # the paused stretch, and only there


def _png(colour: tuple[int, int, int], text: str = "") -> bytes:
    img = Image.new("RGB", (320, 180), colour)
    if text:
        ImageDraw.Draw(img).text((20, 140), text, fill=(0, 0, 0))
    buffer = io.BytesIO()
    img.save(buffer, "PNG")
    return buffer.getvalue()


class CountingReader:
    """Returns one line per read, and records how many reads ran at once."""

    engine = "counting"

    def __init__(self) -> None:
        self.calls = 0
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()

    def read(self, image: bytes) -> OcrResult:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.05)
        with self._lock:
            self.running -= 1
        height = Image.open(io.BytesIO(image)).height
        return OcrResult(
            lines=(OcrLine(text=f"read {height}", score=0.9, box=(10, 10, 60, 30)),),
            engine="c",
            elapsed_ms=50,
        )


def test_reads_run_concurrently_up_to_the_bound():
    frames = [_png((i * 50,) * 3) for i in range(6)]  # each unlike the last: read whole
    for bound in (1, 2, 3):
        reader = CountingReader()
        texts = read_frames(frames, reader=reader, concurrency=bound)
        assert [t.mode for t in texts] == ["full"] * 6 and reader.calls == 6
        assert reader.most == bound


def test_a_frame_changed_at_the_bottom_reads_that_band_and_keeps_the_rest():
    base = _png((240, 240, 240))
    frames = [base, base, _png((240, 240, 240), "00:00:01.000")]
    reader = CountingReader()
    first, again, changed = read_frames(frames, reader=reader, concurrency=2)
    assert (first.mode, again.mode, again.source) == ("full", "reused", 0)
    assert changed.mode == "region" and changed.source == 0 and reader.calls == 2
    (band,) = changed.bands
    assert 100 <= band[0] < band[1] <= 180 and band[1] - band[0] <= 3 * CELL  # the bottom band only
    texts = [line.text for line in changed.result.lines]
    assert texts == ["read 180", f"read {band[1] - band[0]}"]  # carried, then the band's line moved down
    assert changed.result.lines[1].box[1] == band[0] + 10
