"""Generated screenshots with known text, for the OCR tests and the benchmark."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

ERROR_LINES = (
    "Error 500: Internal Server Error",
    "PaymentGatewayTimeout: card declined",
    "Request ID 7f3a-91bc",
)


def error_dialog_png(width: int = 1920, height: int = 1080, lines: tuple[str, ...] = ERROR_LINES) -> bytes:
    """A UI-like screenshot: a menu bar, an error dialog with `lines`, and a table of rows."""
    image = Image.new("RGB", (width, height), (245, 245, 245))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 70), fill=(230, 232, 236))
    draw.text(
        (40, 22), "Dashboard    Invoices    Settings", fill=(60, 60, 60), font=ImageFont.load_default(size=24)
    )
    left, top = width // 2 - 420, height // 2 - 200
    draw.rectangle((left, top, left + 840, top + 260), fill=(255, 255, 255), outline=(200, 0, 0), width=3)
    font = ImageFont.load_default(size=30)
    for i, line in enumerate(lines):
        draw.text(
            (left + 40, top + 40 + 60 * i), line, fill=(200, 0, 0) if i == 0 else (20, 20, 20), font=font
        )
    small = ImageFont.load_default(size=18)
    for row, y in enumerate(range(top + 320, height - 40, 40)):
        draw.text((100, y), f"Order {1000 + row} shipped, total 12.50 EUR", fill=(40, 40, 40), font=small)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
