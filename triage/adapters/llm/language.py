"""Language of a ticket, by lingua (a dedicated offline detector whose n-gram models ship inside the
package: nothing is downloaded).

Only the languages tickets arrive in are loaded, plus Italian and Dutch so that a ticket in one of
those is not forced into a near neighbour. Measured here (Python 3.11, 2 cores): the high-accuracy
models of these seven languages cost ~200 MB and ~3 s on first use in a process; the low-accuracy
(trigram only) mode ~15 MB and ~0.2 s but misreads very short texts ("não consigo entrar" -> es).
The mode is chosen by the caller (settings.TRIAGE_LANGUAGE_ACCURACY); the detector is built once
per process and mode, lazily, so `manage.py` commands that never classify pay nothing.
"""

from __future__ import annotations

import functools
import re
import threading
from typing import Any

SUPPORTED = ("en", "de", "es", "fr", "pt", "it", "nl")
# Below this many letters a detector guesses; the answer is kept but its confidence is capped.
_MIN_LETTERS = 12
_SHORT_TEXT_CAP = 0.4
_URL_OR_CODE = re.compile(r"https?://\S+|\b\w+(?:[._/]\w+){2,}\b|\b[A-Z][a-zA-Z]+(?:Error|Exception)\b")
_lock = threading.Lock()


@functools.cache
def _detector(accuracy: str) -> Any:  # a lingua LanguageDetector, imported on first use
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    codes = [getattr(IsoCode639_1, code.upper()) for code in SUPPORTED]
    builder = LanguageDetectorBuilder.from_iso_codes_639_1(*codes)
    if accuracy == "low":
        builder = builder.with_low_accuracy_mode()
    return builder.build()


def detect_language(text: str, *, accuracy: str = "high") -> tuple[str, float]:
    """(ISO 639-1 code, confidence in 0..1). "en" with confidence 0.2 when there is no text to go on.

    URLs, dotted identifiers and exception names are removed first: a German ticket quoting a Java
    stack trace is still German.
    """
    cleaned = _URL_OR_CODE.sub(" ", text or "")
    letters = sum(ch.isalpha() for ch in cleaned)
    if letters == 0:
        return "en", 0.2
    with _lock:  # building loads the models once; lingua's detector itself is thread-safe
        detector = _detector(accuracy)
    values = detector.compute_language_confidence_values(cleaned)
    if not values or values[0].value <= 0:
        return "en", 0.2
    best = values[0]
    code = best.language.iso_code_639_1.name.lower()
    confidence = float(best.value)
    if letters < _MIN_LETTERS:
        confidence = min(confidence, _SHORT_TEXT_CAP)
    return code, round(min(confidence, 0.99), 3)
