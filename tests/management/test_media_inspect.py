from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import call_command

from tests import media_samples as samples
from triage.models import Attachment, Rendition

KEYS = {
    "path",
    "accepted",
    "reason",
    "kind",
    "mime",
    "renditions",
    "representation",
    "why",
    "token_estimate",
    "token_options",
}


def _inspect(capsys, *paths: Path | str) -> list[dict]:
    call_command("media_inspect", *[str(p) for p in paths])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(paths)
    return [json.loads(line) for line in lines]


@pytest.mark.django_db
def test_good_files_print_what_the_worker_would_store(capsys, tmp_path: Path, settings):
    settings.TRIAGE_VIDEO_FRAMES = 3
    shot = tmp_path / "shot.png"
    shot.write_bytes(samples.image_bytes("PNG", size=(1920, 1080)))
    clip = samples.video_file(tmp_path, "avi", seconds=2)
    image, video = _inspect(capsys, shot, clip)
    assert set(image) == KEYS == set(video)
    assert image["accepted"] and image["kind"] == "image" and image["mime"] == "image/png"
    assert image["representation"] == "image" and image["token_estimate"] == 69 * 39
    rendition, thumb = image["renditions"]
    assert rendition["bytes"] > 0 and thumb["kind"] == "THUMB" and thumb["width"] == 320
    assert {**rendition, "bytes": 0} == {
        "kind": "IMAGE",
        "width": 1920,
        "height": 1080,
        "timestamp_ms": None,
        "bytes": 0,
    }
    assert video["accepted"] and video["representation"] == "frames" and video["why"]
    kinds = [r["kind"] for r in video["renditions"]]
    assert kinds == ["FRAME"] * 3 + ["THUMB", "PLAYBACK"]
    assert video["token_options"]["frames"] == video["token_estimate"] > 0
    assert video["token_options"]["native-video"] > 0
    assert all(r["bytes"] > 0 for r in video["renditions"])
    # nothing stored
    assert not Attachment.objects.exists() and not Rendition.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        samples.TEXT,
        samples.HTML,
        samples.SVG,
        samples.PDF,
        samples.ZIP,
        samples.M3U8,
        samples.POLYGLOT_GIF_JS,
        samples.bomb_png(),
        samples.truncated(samples.image_bytes("PNG"), 0.2),
        samples.truncated(samples.photo_jpeg((400, 300)), 0.01),
        b"\x00\x00\x00\x18ftypmp42" + bytes(200),  # an mp4 head with nothing after it
    ],
)
def test_hostile_files_each_get_a_refusal_line(capsys, tmp_path: Path, data: bytes):
    path = tmp_path / "upload.png"
    path.write_bytes(data)
    [line] = _inspect(capsys, path)
    assert line["accepted"] is False and line["reason"]
    assert line["renditions"] == [] and line["path"] == str(path)


def test_missing_paths_and_directories_do_not_stop_the_others(capsys, tmp_path: Path):
    shot = tmp_path / "shot.png"
    shot.write_bytes(samples.image_bytes("PNG"))
    missing, directory, good = _inspect(capsys, tmp_path / "nope.png", tmp_path, shot)
    assert missing["reason"] == "no such file" and not missing["accepted"]
    assert "directory" in directory["reason"] and not directory["accepted"]
    assert good["accepted"]


def test_the_size_limits_come_from_settings(capsys, tmp_path: Path, settings):
    settings.TRIAGE_MAX_IMAGE_BYTES = 100
    shot = tmp_path / "shot.png"
    shot.write_bytes(samples.image_bytes("PNG"))
    [line] = _inspect(capsys, shot)
    assert not line["accepted"] and "at most" in line["reason"]
