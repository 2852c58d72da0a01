from __future__ import annotations

import io

import pytest
from PIL import Image

from triage.adapters.media import Frame
from triage.adapters.media.storyboard import build_storyboard

COLOURS = [(220, 38, 38), (22, 163, 74), (37, 99, 235), (234, 179, 8), (147, 51, 234)]


def _frame(colour: tuple[int, int, int], *, at_ms: int, size: tuple[int, int] = (320, 240)) -> Frame:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="JPEG", quality=95)
    return Frame(
        data=out.getvalue(),
        mime="image/jpeg",
        extension="jpg",
        width=size[0],
        height=size[1],
        timestamp_ms=at_ms,
    )


def _decode(frame: Frame) -> Image.Image:
    img = Image.open(io.BytesIO(frame.data))
    img.load()
    return img


def _near(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 24) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


def test_frames_are_tiled_left_to_right_then_down():
    frames = [_frame(colour, at_ms=i * 10_000 + 1_500) for i, colour in enumerate(COLOURS)]
    board = build_storyboard(frames, columns=3)
    img = _decode(board)
    assert img.format == "JPEG" and img.size == (board.width, board.height)
    assert board.mime == "image/jpeg" and board.extension == "jpg"
    # 5 tiles of 320x240 in 3 columns: 2 rows, with a few px between tiles
    assert 960 <= board.width <= 990 and 480 <= board.height <= 500
    tile_w, tile_h = (board.width + 4) // 3, (board.height + 4) // 2
    for n, colour in enumerate(COLOURS):
        centre = ((n % 3) * tile_w + tile_w // 2, (n // 3) * tile_h + tile_h // 2)
        assert _near(img.getpixel(centre), colour), n
    empty = (2 * tile_w + tile_w // 2, tile_h + tile_h // 2)
    assert not any(_near(img.getpixel(empty), colour) for colour in COLOURS)  # sixth cell: background
    assert board.timestamp_ms == 1_500


def test_each_tile_carries_a_readable_label_box():
    frames = [_frame((255, 255, 255), at_ms=i * 83_000) for i in range(3)]
    img = _decode(build_storyboard(frames, columns=3)).convert("L")
    tile_w = (img.width + 4) // 3
    for n in range(3):
        box = img.crop((n * tile_w, 0, n * tile_w + 60, 24))
        dark = sum(1 for v in box.tobytes() if v < 80)
        light = sum(1 for v in box.tobytes() if v > 200)
        assert dark > 300 and light > 20, n  # white text on a dark box, over a white frame
        plain = img.crop((n * tile_w + 200, 150, n * tile_w + 260, 174))
        assert min(plain.tobytes()) > 200  # the rest of the tile is untouched


def test_labels_differ_with_the_timestamp():
    same = [_frame((255, 255, 255), at_ms=0)]
    later = [_frame((255, 255, 255), at_ms=3_723_000)]
    assert _decode(build_storyboard(same)).tobytes() != _decode(build_storyboard(later)).tobytes()


@pytest.mark.parametrize(("count", "columns", "max_side"), [(9, 3, 640), (4, 4, 1920), (12, 3, 800)])
def test_the_longest_side_never_exceeds_max_side(count: int, columns: int, max_side: int):
    frames = [_frame(COLOURS[i % 5], at_ms=i * 1000, size=(1280, 720)) for i in range(count)]
    board = build_storyboard(frames, columns=columns, max_side=max_side)
    img = _decode(board)
    assert max(img.size) <= max_side and img.size == (board.width, board.height)
    assert max(img.size) >= max_side * 0.95  # shrunk to fit, not further


def test_fewer_frames_than_columns_gives_one_row():
    board = build_storyboard([_frame(COLOURS[0], at_ms=0), _frame(COLOURS[1], at_ms=5)], columns=3)
    assert board.height == 240 and board.width < 700


def test_a_single_frame_is_its_own_storyboard():
    board = build_storyboard([_frame(COLOURS[2], at_ms=42)])
    assert (board.width, board.height) == (320, 240) and board.timestamp_ms == 42


def test_frames_of_mixed_sizes_keep_their_aspect_ratio():
    frames = [_frame(COLOURS[0], at_ms=0), _frame(COLOURS[1], at_ms=1, size=(240, 320))]
    img = _decode(build_storyboard(frames, columns=2))
    assert img.size[1] == 320
    assert _near(img.getpixel((40 + 324, 160)), COLOURS[1])  # portrait frame centred in its cell


def test_an_empty_storyboard_is_a_programming_error():
    with pytest.raises(ValueError, match="at least one frame"):
        build_storyboard([])
