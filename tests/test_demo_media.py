from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from triage.adapters.media import ImageLimits
from triage.adapters.media.images import normalize_image
from triage.adapters.media.sniff import sniff
from triage.adapters.media.video import probe_video, sample_frames
from triage.demo_media import render_recording, render_screenshot

DIALOG_RED = (220, 38, 38)


def _red_share(img: Image.Image) -> float:
    """Share of pixels in the dialog's red (the title bar and border)."""
    rgb = img.convert("RGB").resize((img.width // 4, img.height // 4), Image.Resampling.NEAREST)
    raw = rgb.tobytes()
    pixels = [raw[i : i + 3] for i in range(0, len(raw), 3)]
    red = sum(1 for p in pixels if all(abs(c - d) < 40 for c, d in zip(p, DIALOG_RED, strict=True)))
    return red / len(pixels)


def test_a_screenshot_is_a_png_of_the_requested_size():
    data = render_screenshot(
        title="Acme - Checkout", lines=["Order #1", "Total: 9.00 EUR"], width=1024, height=640
    )
    assert sniff(data[:8192]).mime == "image/png"
    with Image.open(io.BytesIO(data)) as img:
        assert img.size == (1024, 640)
        assert _red_share(img) < 0.001


def test_a_screenshot_can_show_an_error_dialog():
    data = render_screenshot(title="Acme", lines=["x"], error_dialog="Payment failed: HTTP 500 " * 6)
    with Image.open(io.BytesIO(data)) as img:
        assert _red_share(img) > 0.02


def test_a_screenshot_normalizes_as_a_screenshot(tmp_path: Path):
    path = tmp_path / "shot"
    path.write_bytes(render_screenshot(title="Acme", lines=["a", "b"], error_dialog="Oops"))
    limits = ImageLimits(max_pixels=16384 * 14 * 14, max_side=4096, max_source_pixels=60_000_000)
    assert normalize_image(path, limits=limits).mime == "image/png"


def test_a_recording_is_an_h264_mp4_where_the_error_appears_late(tmp_path: Path):
    path = tmp_path / "rec.mp4"
    render_recording(path, seconds=3, width=640, height=360, fps=10, error_text="Payment failed")
    assert sniff(path.read_bytes()[:8192]).mime == "video/mp4"
    probe = probe_video(path, timeout_s=30)
    assert (probe.codec, probe.width, probe.height) == ("h264", 640, 360)
    assert probe.duration_s == pytest.approx(3.0, abs=0.15)
    first, last = sample_frames(path, probe=probe, count=2, max_side=640, timeout_s=30)
    assert _red_share(Image.open(io.BytesIO(first.data))) < 0.005
    assert _red_share(Image.open(io.BytesIO(last.data))) > 0.02


@pytest.mark.parametrize(("container", "mime"), [("webm", "video/webm"), ("mov", "video/quicktime")])
def test_a_recording_can_be_written_in_other_containers(tmp_path: Path, container: str, mime: str):
    path = tmp_path / f"rec.{container}"
    render_recording(path, seconds=1, width=321, height=181, container=container)
    assert sniff(path.read_bytes()[:8192]).mime == mime
    probe = probe_video(path, timeout_s=30)
    assert (probe.width, probe.height) == (320, 180)  # evened for yuv420p


def test_an_unknown_container_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="unsupported container"):
        render_recording(tmp_path / "x.rm", seconds=1, container="realmedia")
