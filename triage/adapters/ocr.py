"""Text in screenshots and video frames, read offline by RapidOCR (PP-OCR models in ONNX).

The detection, recognition and angle models ship inside the `rapidocr` wheel (~31 MB of .onnx
under rapidocr/models/): nothing is downloaded at run time (a test reads a screenshot with every
socket refused). onnxruntime runs them on the CPU; no PyTorch.

Measured here on a 1920x1080 UI screenshot (2 shared cores): the engine loads in ~2 s once per
process; detection at the full 1920 px took 3-5 s, at a longest side of 960 px 1.4 s with the same
lines read, because recognition still reads each line's crop from the full-resolution image.
The angle classifier is off: screenshots and screen recordings are upright.

One reader may read on several threads at once (onnxruntime sessions are thread-safe, and the
engine's per-call state is rebuilt from the same constant parameters on every call): the worker
shares one engine between its concurrent reads (ocr_frames.py).

Each line comes with the left and right edge of each of its characters (RapidOCR's
`return_single_char_box`, from where the recognizer placed each character along the line): a
value in the middle of a line is covered where it is, not where an average character width puts
it.
"""

from __future__ import annotations

import io
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

DETECTION_MAX_SIDE = 960
MIN_LINE_SCORE = 0.5  # below this RapidOCR's recognizer is mostly guessing at icons and noise


@dataclass(frozen=True)
class OcrLine:
    text: str
    score: float
    box: tuple[int, int, int, int]  # left, top, right, bottom in source pixels
    # (left, right) of each character that is not a space, in order: where a word starts and ends
    chars: tuple[tuple[int, int], ...] = ()

    def as_dict(self) -> dict:
        """As RenditionText stores it (and pii.cover_boxes reads it)."""
        line: dict = {"text": self.text, "score": self.score, "box": list(self.box)}
        if self.chars:
            line["chars"] = [list(edge) for edge in self.chars]
        return line


@dataclass(frozen=True)
class OcrResult:
    lines: tuple[OcrLine, ...]
    engine: str
    elapsed_ms: int

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


class OcrReader(Protocol):
    engine: str

    def read(self, image: bytes) -> OcrResult: ...


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = ()  # a local model: nothing is worth a retry


class RapidOcrReader:
    engine = "rapidocr-ppocrv6-small"

    def __init__(self, *, detection_max_side: int = DETECTION_MAX_SIDE, threads: int | None = None) -> None:
        """`threads`: onnxruntime's intra-op threads per read (its default: every core). Reads
        running concurrently on threads of one reader each take that many."""
        self._detection_max_side = detection_max_side
        self._threads = threads
        self._engine: Any = None  # a RapidOCR, loaded on first use (rapidocr ships no types)
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._engine is None:
                from rapidocr import RapidOCR

                self._engine = RapidOCR(
                    params={
                        "Global.log_level": "error",
                        "Global.use_cls": False,
                        "Det.limit_type": "max",
                        "Det.limit_side_len": self._detection_max_side,
                        "Global.width_height_ratio": -1,
                        **(
                            {"EngineConfig.onnxruntime.intra_op_num_threads": self._threads}
                            if self._threads
                            else {}
                        ),
                    }
                )
            return self._engine

    def read(self, image: bytes) -> OcrResult:
        from PIL import Image

        started = time.monotonic()
        with Image.open(io.BytesIO(image)) as img:
            rgb = img.convert("RGB")
        import numpy as np

        # RapidOCR expects OpenCV's BGR order for arrays.
        output = self._load()(np.asarray(rgb)[:, :, ::-1], return_word_box=True, return_single_char_box=True)
        words = list(output.word_results or ())
        lines: list[OcrLine] = []
        for text, score, box in zip(
            output.txts or (),
            output.scores or (),
            output.boxes if output.boxes is not None else (),
            strict=False,
        ):
            text = " ".join(str(text).split())
            # the engine leaves out lines it has no characters for: match them by their text
            chars = _char_edges(words[0], text) if words else None
            if chars is not None:
                words.pop(0)
            if not text or float(score) < MIN_LINE_SCORE:
                continue
            xs, ys = [p[0] for p in box], [p[1] for p in box]
            lines.append(
                OcrLine(
                    text=text,
                    score=round(float(score), 3),
                    box=(int(min(xs)), int(min(ys)), int(max(xs)), int(max(ys))),
                    chars=chars or (),
                )
            )
        # Reading order: top to bottom, then left to right within a ~line-high band.
        lines.sort(key=lambda line: (line.box[1] // 12, line.box[0]))
        return OcrResult(
            lines=tuple(lines), engine=self.engine, elapsed_ms=int((time.monotonic() - started) * 1000)
        )


def _char_edges(word_line: Any, text: str) -> tuple[tuple[int, int], ...] | None:
    """(left, right) per character from RapidOCR's [(char, score, 4 corner points)] for a line,
    when its characters are the line's characters that are not spaces; None otherwise."""
    try:
        if "".join(str(item[0]) for item in word_line) != "".join(text.split()):
            return None
        return tuple((int(min(p[0] for p in item[2])), int(max(p[0] for p in item[2]))) for item in word_line)
    except (TypeError, IndexError, ValueError):
        return None
