from __future__ import annotations

import io
import socket
from pathlib import Path

import pytest

from tests.screenshots import ERROR_LINES, error_dialog_png
from triage.adapters.ocr import RapidOcrReader


@pytest.fixture(scope="module")
def reader():
    return RapidOcrReader()


def test_the_models_ship_inside_the_package():
    import rapidocr

    models = list((Path(rapidocr.__file__).parent / "models").glob("*.onnx"))
    assert len(models) >= 2 and sum(p.stat().st_size for p in models) > 10_000_000


def test_a_generated_screenshot_is_read_with_no_network(reader, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test: OCR must not download anything")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    result = reader.read(error_dialog_png())
    texts = [line.text for line in result.lines]
    for expected in ERROR_LINES:
        assert expected in texts
    assert "Order 1003 shipped, total 12.50 EUR" in texts
    assert result.engine == "rapidocr-ppocrv6-small"
    assert all(0.5 <= line.score <= 1.0 for line in result.lines)


def test_lines_come_in_reading_order(reader):
    result = reader.read(error_dialog_png(lines=("First line on top", "Second line below")))
    texts = [line.text for line in result.lines]
    assert (
        texts.index("First line on top")
        < texts.index("Second line below")
        < texts.index("Order 1000 shipped, total 12.50 EUR")
    )
    assert texts[0].startswith("Dashboard")


def test_an_image_without_text_reads_nothing(reader):
    from tests.factories import png_bytes

    assert reader.read(png_bytes(200, 120)).lines == ()


def test_each_line_knows_where_its_characters_are(reader):
    """A word in the middle of a line is found where it was drawn: the engine's character edges,
    one per character that is not a space, left to right inside the line's box."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (900, 120), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=28)
    text = "WWWW iiii contact ana@example.com"
    draw.text((30, 40), text, fill=(0, 0, 0), font=font)
    start = 30 + draw.textlength(text[: text.index("ana@")], font=font)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    (line,) = reader.read(buffer.getvalue()).lines
    assert len(line.chars) == len("".join(line.text.split()))
    lefts = [left for left, _ in line.chars]
    assert lefts == sorted(lefts) and line.box[0] - 2 <= lefts[0] and line.chars[-1][1] <= line.box[2] + 2
    at = "".join(line.text.split()).index("ana@")
    assert abs(line.chars[at][0] - start) < 12, (line.chars[at], start)
    assert line.as_dict()["chars"][at] == list(line.chars[at])
