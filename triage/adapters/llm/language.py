"""Language of a ticket, by lingua (a dedicated offline detector whose n-gram models ship inside the
package: nothing is downloaded).

Only the languages tickets arrive in are loaded, plus Italian and Dutch so that a ticket in one of
those is not forced into a near neighbour. Measured here (Python 3.11, 2 cores, lingua 2.1):

- "high": lingua's 1- to 5-gram models, ~185 MB and 3-7 s on the first short text in a process.
  lingua reads only trigrams once a text has 120 characters, so the other models serve short texts.
- "low" (the default): the trigram models only, ~15 MB and ~0.4 s. Alone they misread some short
  texts ("não consigo entrar" -> es), so below 120 characters each language's score also gets
  FUNCTION_WORD_WEIGHT per function word of that language in the text (at most three). On the
  5,080 tickets of tests/fixtures/eval (1,300 of them under 120 characters) this agreed with the
  labelled language on 99.85% of the short ones, "high" on 100%, trigrams alone on 99.6%; the
  ~170 MB it saves is most of the worker's budget for the model.

The mode is chosen by the caller (settings.TRIAGE_LANGUAGE_ACCURACY); the detector is built once
per process and mode, lazily, so `manage.py` commands that never classify pay nothing.

The confidence reported is calibrated: lingua's own figure is the top language's share of the
scores, which says 0.5-0.7 where the detector is right 95-99% of the time (see CALIBRATION).
"""

from __future__ import annotations

import functools
import re
import threading
from typing import Any

import numpy as np

SUPPORTED = ("en", "de", "es", "fr", "pt", "it", "nl")
# Below this many letters a detector guesses; the answer is kept but its confidence is capped.
_MIN_LETTERS = 12
_SHORT_TEXT_CAP = 0.4
# No language is ever reported as certain.
_CEILING = 0.99
_URL_OR_CODE = re.compile(r"https?://\S+|\b\w+(?:[._/]\w+){2,}\b|\b[A-Z][a-zA-Z]+(?:Error|Exception)\b")
_lock = threading.Lock()
DEFAULT_ACCURACY = "low"
# lingua's own cut-off: from this many characters on, it reads trigrams only in either mode.
_TRIGRAMS_ONLY_FROM = 120
FUNCTION_WORD_WEIGHT = 0.2
_WORDS = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def _profile(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Short, frequent words of each ticket language: they tell languages apart where a few trigrams do
# not (the offline classifier also removes them before similarity).
FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "en": _profile(
        "the and is are to of it i my in for not on with this that you we have be at when can please "
        "was does doesn't don't cannot after from our your an"
    ),
    "de": _profile(
        "der die das und ist sind nicht ich wir sie mit für auf ein eine zu bei wurde bitte uns den dem "
        "es kann keine mein meine nach seit wenn auch noch"
    ),
    "es": _profile(
        "el la los las y es no de que en un una por para con se mis mi muy pero gracias cómo del al "
        "puedo está hay cuando desde nuestro"
    ),
    "fr": _profile(
        "le la les et est pas de que en un une pour avec je nous vous ne sur mon ma merci des du au "
        "il elle ce quand depuis notre puis"
    ),
    "pt": _profile(
        "o a os as e é não de que em um uma para com eu meu minha por muito obrigado na no do da "
        "ao está quando desde nosso consigo"
    ),
}


# (raw share, reported confidence) breakpoints, applied with np.interp (flat beyond both ends):
# a raw share reports the accuracy of its band on labelled tickets. Derived by `python
# bench/language_calibration.py` (which also checks this table against what it derives) from the
# 11,480 tickets of tests/fixtures/eval/{helpdesk,helpdesk_hard,independent,shop,shop_hard,
# tickets}.csv, each read as the offline model reads it (language_sample of subject and body), in
# the "low" mode: an isotonic fit of right/wrong on the raw share, its steps pooled until each
# holds 50 tickets. Two bands: shares 0.367-0.612 (70 tickets, the 3 under 0.5 pooled in; 64
# right, 0.914) and from 0.613 on (11,410, 99.7% right: the 0.99 ceiling). Under the lowest share
# seen, a line to chance: a share of 1/7 (seven equal scores) is a guess among seven languages.
# ECE 0.025 -> 0.007 over the pool; derived on helpdesk+shop+tickets and scored on the other three
# 0.019 -> 0.005, the other way round 0.033 -> 0.009. The "high" mode shares the table, measured:
# 0.018 -> 0.007, as with a table derived in that mode (all shares from 0.348 at 0.99; the two
# differ only under a share of 0.613: 23 tickets, 22 right).
CALIBRATION: tuple[tuple[float, float], ...] = ((0.143, 0.143), (0.367, 0.914), (0.612, 0.914), (0.613, 0.99))

_SHARES, _ACCURACIES = (np.array(column) for column in zip(*CALIBRATION, strict=True))


def calibrated_confidence(raw: float) -> float:
    """The confidence reported for lingua's raw share `raw` (CALIBRATION), at most the ceiling."""
    return min(float(np.interp(raw, _SHARES, _ACCURACIES)), _CEILING)


@functools.cache
def _detector(accuracy: str) -> Any:  # a lingua LanguageDetector, imported on first use
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    codes = [getattr(IsoCode639_1, code.upper()) for code in SUPPORTED]
    builder = LanguageDetectorBuilder.from_iso_codes_639_1(*codes)
    if accuracy == "low":
        builder = builder.with_low_accuracy_mode()
    return builder.build()


def detect_language(
    text: str, *, accuracy: str = DEFAULT_ACCURACY, calibrated: bool = True
) -> tuple[str, float]:
    """(ISO 639-1 code, confidence in 0..1). "en" with confidence 0.2 when there is no text to go on.

    URLs, dotted identifiers and exception names are removed first: a German ticket quoting a Java
    stack trace is still German. `calibrated=False` gives lingua's raw share instead of its
    calibrated confidence (what bench/language_calibration.py fits the calibration on); the cap for
    a short text and the ceiling apply either way.
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
    scores = {v.language.iso_code_639_1.name.lower(): float(v.value) for v in values}
    if accuracy == "low" and len(cleaned.strip()) < _TRIGRAMS_ONLY_FROM:
        words = [w.lower() for w in _WORDS.findall(cleaned)]
        for code, profile in FUNCTION_WORDS.items():
            if code in scores:
                scores[code] += FUNCTION_WORD_WEIGHT * min(3, sum(w in profile for w in words))
    code = max(scores, key=lambda c: scores[c])
    confidence = scores[code] / sum(scores.values())
    if calibrated:
        confidence = calibrated_confidence(confidence)
    # after the calibration: the labelled tickets have no such short text to calibrate it with
    if letters < _MIN_LETTERS:
        confidence = min(confidence, _SHORT_TEXT_CAP)
    return code, round(min(confidence, _CEILING), 3)
