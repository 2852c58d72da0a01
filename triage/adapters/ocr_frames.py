"""The text of a recording's sampled frames, reading only what changed since the last read frame.

A screen recording mostly shows the same screen: what changes between two sampled frames is a
cursor, a line of status text, a dialog, and on many recordings a timecode that ticks on every
frame (so no two frames are identical and a whole-frame comparison never skips one). So each frame
is compared with the last frame that was read, cell by cell:

- no cell changed: the frame's lines are the read frame's lines ("reused", with where from);
- some cells changed: only full-width bands around the changed cell rows are read, widened to
  whole text lines, and the read frame's lines outside those bands are carried over ("region");
- most of the frame changed (or the first frame, or another size): the whole frame ("full").

A band spans the frame's whole width: text runs left to right, so a line whose middle changed is
read whole, and a band is detected at the same scale as the whole frame (the detector limits the
longest side, which a full-width band shares with its frame), so it reads as the full frame would.

How a cell counts as changed, measured on libx264 recordings (crf 18 to 42) of known text against
the drawn frames (tests/ocr_recordings.py): after a 3x3 box blur of the grey frame, a cell changed
when at least 2 of its pixels moved by more than 20 grey levels. x264 and JPEG noise on an
unchanged cell stays under that up to crf 36 (at crf 42, 3 of 105 frame pairs showed a change that
was not there: a needless read, not a lost line); one timecode digit changing (grey text, 16 px)
moves a cell's pixels by 50+. A mean over the cell does not separate the two: the mean noise at
crf 28 (up to 1.4) is higher than the mean of a cell that a changed glyph only grazes (0.3).

The reads themselves (whole frames and bands) run concurrently on a bounded thread pool, sharing
one engine; the merge that needs the previous frame's lines runs after, in frame order.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from PIL import Image, ImageFilter

from triage.adapters.ocr import OcrLine, OcrReader, OcrResult

CELL = 32  # px of the frame as stored; a 16-18 px text line spans one or two cell rows
BLUR_RADIUS = 1  # 3x3 box: takes the encoder's single-pixel noise out, keeps a glyph's strokes
PIXEL_DELTA = 20  # grey levels a blurred pixel must move by to count
CELL_PIXELS = 2  # pixels past PIXEL_DELTA that make a cell changed
BAND_MARGIN = CELL // 2  # px above and below the changed cells: the rest of a line they cut through
FULL_READ_SHARE = 0.5  # bands over more than this share of the height: read the whole frame
_EDGE = 1  # a line read this close to a band's cut edge was cut by it: widen the band, read again
_LINE_PAD = 6  # px kept above and below a line a band is widened to (more than _EDGE)
_WIDEN_ATTEMPTS = 4

Mode = Literal["full", "region", "reused"]


@dataclass(frozen=True)
class FrameText:
    """Every line on one frame, and how it was obtained."""

    result: OcrResult
    mode: Mode
    # the frame (index in the sequence) whose lines were reused, or carried outside the bands
    source: int | None = None
    bands: tuple[tuple[int, int], ...] = ()  # (top, bottom) rows read, for a region read


@dataclass(frozen=True)
class _Plan:
    mode: Mode
    source: int | None
    bands: tuple[tuple[int, int], ...]


def signature(image: Image.Image) -> np.ndarray:
    """The blurred grey picture the comparison works on."""
    grey = image.convert("L").filter(ImageFilter.BoxBlur(BLUR_RADIUS))
    return np.asarray(grey, dtype=np.int16)


def changed_cells(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """A boolean grid (rows, columns) of CELL-sized cells whose picture changed. The last partial
    row and column count as cells too."""
    moved = (np.abs(after - before) > PIXEL_DELTA).astype(np.int32)
    height, width = moved.shape
    rows, cols = -(-height // CELL), -(-width // CELL)
    padded = np.zeros((rows * CELL, cols * CELL), dtype=np.int32)
    padded[:height, :width] = moved
    return padded.reshape(rows, CELL, cols, CELL).sum(axis=(1, 3)) >= CELL_PIXELS


def changed_bands(cells: np.ndarray, *, height: int) -> list[tuple[int, int]]:
    """Full-width (top, bottom) pixel bands covering every changed cell row plus BAND_MARGIN,
    bands that touch merged."""
    bands: list[tuple[int, int]] = []
    for row in np.nonzero(cells.any(axis=1))[0]:
        top = max(0, int(row) * CELL - BAND_MARGIN)
        bottom = min(height, (int(row) + 1) * CELL + BAND_MARGIN)
        if bands and top <= bands[-1][1]:
            bands[-1] = (bands[-1][0], max(bands[-1][1], bottom))
        else:
            bands.append((top, bottom))
    return bands


def plan_reads(signatures: Sequence[np.ndarray]) -> list[_Plan]:
    """What to read of each frame, from the pictures alone (no read needs another's result)."""
    plans: list[_Plan] = []
    last_read: int | None = None
    for i, sig in enumerate(signatures):
        if last_read is None or sig.shape != signatures[last_read].shape:
            plans.append(_Plan("full", None, ()))
            last_read = i
            continue
        cells = changed_cells(signatures[last_read], sig)
        if not cells.any():
            plans.append(_Plan("reused", last_read, ()))
            continue
        height = sig.shape[0]
        bands = changed_bands(cells, height=height)
        if sum(bottom - top for top, bottom in bands) > FULL_READ_SHARE * height:
            plans.append(_Plan("full", None, ()))
        else:
            plans.append(_Plan("region", last_read, tuple(bands)))
        last_read = i
    return plans


def read_frames(frames: Sequence[bytes], *, reader: OcrReader, concurrency: int = 1) -> list[FrameText]:
    """The lines of every frame (in sequence order, e.g. a recording's frames by time)."""
    images = [_decode(data) for data in frames]
    plans = plan_reads([signature(image) for image in images])
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        full: dict[int, Future[OcrResult]] = {}
        bands: dict[tuple[int, int, int], Future[OcrResult]] = {}
        for i, plan in enumerate(plans):
            if plan.mode == "full":
                full[i] = pool.submit(reader.read, frames[i])
            for band in plan.bands:
                bands[(i, *band)] = pool.submit(_read_band, reader, images[i], band)
        texts: list[FrameText] = []
        for i, plan in enumerate(plans):
            if plan.mode == "full":
                texts.append(FrameText(result=full[i].result(), mode="full"))
            elif plan.mode == "reused":
                assert plan.source is not None
                texts.append(FrameText(result=texts[plan.source].result, mode="reused", source=plan.source))
            else:
                assert plan.source is not None
                texts.append(
                    _merge(
                        previous=texts[plan.source].result,
                        image=images[i],
                        bands=list(plan.bands),
                        read=functools.partial(_planned_or_now, bands, reader, images[i], i),
                        source=plan.source,
                        frame=frames[i],
                        reader=reader,
                    )
                )
    return texts


def _planned_or_now(
    planned: dict[tuple[int, int, int], Future[OcrResult]],
    reader: OcrReader,
    image: Image.Image,
    index: int,
    band: tuple[int, int],
) -> OcrResult:
    """A band's planned read (running on the pool), or a widened band read now."""
    key = (index, *band)
    return planned[key].result() if key in planned else _read_band(reader, image, band)


def _merge(
    *,
    previous: OcrResult,
    image: Image.Image,
    bands: list[tuple[int, int]],
    read: Callable[[tuple[int, int]], OcrResult],
    source: int,
    frame: bytes,
    reader: OcrReader,
) -> FrameText:
    """The previous read frame's lines outside the bands, plus what the bands read. A band that cut
    a line (a previous line across its edge, or a line read at its edge) is widened to whole lines
    and read again; after a few tries the whole frame is read."""
    height = image.height
    done: dict[tuple[int, int], OcrResult] = {}
    for _ in range(_WIDEN_ATTEMPTS):
        results = [(band, done.get(band) or read(band)) for band in bands]
        done.update(results)
        widened = list(bands)
        for k, (band, result) in enumerate(results):
            top, bottom = band
            for line in previous.lines:
                ink_top, ink_bottom = _ink(line)
                if ink_top < bottom and ink_bottom > top and (ink_top < top or ink_bottom > bottom):
                    widened[k] = (
                        max(0, min(widened[k][0], line.box[1] - _LINE_PAD)),
                        min(height, max(widened[k][1], line.box[3] + _LINE_PAD)),
                    )
            for line in result.lines:
                ink_top, ink_bottom = _ink(line)
                if ink_top <= _EDGE and top > 0:
                    widened[k] = (max(0, top - BAND_MARGIN), widened[k][1])
                if ink_bottom >= (bottom - top) - _EDGE and bottom < height:
                    widened[k] = (widened[k][0], min(height, bottom + BAND_MARGIN))
        if widened == bands:
            lines = [
                line
                for line in previous.lines
                if not any(_ink(line)[0] < bottom and _ink(line)[1] > top for top, bottom in bands)
            ]
            for (top, _), result in results:
                lines.extend(_shift(line, top) for line in result.lines)
            lines.sort(key=lambda line: (line.box[1] // 12, line.box[0]))  # as RapidOcrReader orders them
            return FrameText(
                result=OcrResult(
                    lines=tuple(lines),
                    engine=previous.engine,
                    elapsed_ms=sum(result.elapsed_ms for _, result in results),
                ),
                mode="region",
                source=source,
                bands=tuple(bands),
            )
        bands = _merge_overlapping(widened)
    return FrameText(result=reader.read(frame), mode="full")


def _ink(line: OcrLine) -> tuple[int, int]:
    """The rows a line's glyphs take: the detector's box grows each line by about a quarter of
    its height above and below (DB's unclip), which reaches across a band's edge when the glyphs
    do not: a band would be widened, and a line outside it dropped, for nothing."""
    inset = (line.box[3] - line.box[1]) // 5
    return line.box[1] + inset, line.box[3] - inset


def _merge_overlapping(bands: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for top, bottom in sorted(bands):
        if merged and top <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], bottom))
        else:
            merged.append((top, bottom))
    return merged


def _read_band(reader: OcrReader, image: Image.Image, band: tuple[int, int]) -> OcrResult:
    top, bottom = band
    buffer = io.BytesIO()
    # lossless and cheap to write: the band is read from the same pixels as the frame
    image.crop((0, top, image.width, bottom)).save(buffer, format="PNG", compress_level=1)
    return reader.read(buffer.getvalue())


def _shift(line: OcrLine, dy: int) -> OcrLine:
    left, top, right, bottom = line.box
    return replace(line, box=(left, top + dy, right, bottom + dy))


def _decode(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as img:
        return img.convert("RGB")
