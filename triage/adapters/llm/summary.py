"""The offline summary: at most three short lines, each taken from the ticket, nothing invented.

1. the problem: one sentence of the requester's own words (never the subject again, which the
   reviewer already sees above the summary, nor a side remark: "By the way, the printer jams.");
2. the error as shown: an OCR line from the screenshots or frames, burned-in overlays (timestamps,
   timecodes, "REC") removed, prefixed "On screen:"; the screenshot's error wins over the
   requester's retelling of it; otherwise an exception or error line from the text;
3. the environment, when the requester states it: browser, operating system, device and app
   version as written ("Environment: Firefox 128, Windows 11").

Pure functions over values. Sentences are ranked by their similarity to the predicted category (a
`SentenceScorer`, the classifier's fitted category model) plus cues: an exception or error line,
the steps a requester took, the opening.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

import numpy as np
from scipy import sparse

from triage.adapters.llm.base import TicketInput
from triage.adapters.llm.normalize import is_side_remark


class SentenceScorer(Protocol):
    """Scores texts against each value of one field (the classifier's category model)."""

    values: list[str]

    def transform(self, texts: list[str]) -> sparse.csr_matrix: ...

    def scores_for(self, vectors: sparse.csr_matrix) -> np.ndarray: ...


# Summary scoring: sentences that carry the error are what a reviewer needs first.
_ERRORISH = re.compile(
    r"\b(error|exception|failed|fails|failure|crash|crashes|timeout|timed out|traceback|denied|"
    r"[45]\d\d|fehler|absturz|falla|fallo|erreur|plante|erro|falha)",
    re.IGNORECASE,
)
_EXCEPTION_LINE = re.compile(r"\b\w*(Error|Exception)\b\s*:")
# What else an error dialog says: a refusal word or an error code ("(E1042)", "E_TIMEOUT", "Q-17").
_SCREEN_ERROR = re.compile(
    r"\b(declined|invalid|rejected|refused|not found|exceeded|unavailable|expired|forbidden|"
    r"unauthori[sz]ed|ungültig|abgelehnt|rechazad[oa]|inválid[oa]|refusé|invalide)\b"
    r"|\b[A-Z]{1,3}[-_]?\d{3,5}\b|\b[A-Z]+_[A-Z_]{3,}\b|\b[a-z]+_[a-z_]{3,}\b",
    re.IGNORECASE,
)
_FRAME_LINE = re.compile(r'^\s*(File ".*", line \d+|at [\w.$<>]+\(.*\)$|Traceback \(most recent call last\))')
_GREETING = re.compile(
    r"^(hi|hello|hey|dear|hallo|guten tag|hola|bonjour|olá|ola|thanks|thank you|regards|best|cheers|"
    r"danke|gracias|merci|obrigad[oa]|saludos|cordialement|atenciosamente|mit freundlichen)\b",
    re.IGNORECASE,
)
_STEPS = re.compile(
    r"^\s*(\d+[.)]|-|\*)\s|\b(steps?|when I (click|press|open|try)|after (I|clicking)|then I|"
    r"schritte?|wenn ich|pasos?|cuando (hago|pulso)|étapes?|quand je|passos?|quando (clico|eu))\b",
    re.IGNORECASE,
)
_MAX_OCR_CANDIDATES = 3
# Overlays a recording or screenshot tool burns into the picture, not part of the error shown:
# timestamps and timecodes (00:00:02.500, 12:04, 01:02:03:04), a player's position ("0:02 / 0:06")
# and progress bar, "REC", frame counters.
_OVERLAY = re.compile(
    r"\b\d{1,2}:\d{2}(?::\d{2})?(?:[.,:]\d{1,3})?(?:\s*/\s*\d{1,2}:\d{2}(?::\d{2})?)?\b"
    r"|\bREC\b|[●•━─▬■▶⏸⏵]+|\bframe\s*\d+(?:\s*/\s*\d+)?\b"
    r"|\b\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?\b",
    re.IGNORECASE,
)
# Not after "1." or "12.": a numbered step is not the end of a sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?])(?<!\b\d\.)(?<!\b\d\d\.)\s+")
_MAX_SENTENCE_CHARS = 400
# A summary line is read at a glance: longer sentences keep a verbatim prefix cut at a word.
_MAX_LINE_CHARS = 200
SCREEN_PREFIX = "On screen: "
ENVIRONMENT_PREFIX = "Environment: "

# Environment as requesters write it. Names that are also common words ("Edge", "Opera",
# "Windows", "Surface") only count capitalized; version numbers are kept with their name.
_NUMBER = r"\d+(?:\.\d+){0,3}"
_ENVIRONMENT = (
    re.compile(  # browsers
        r"\b(?:(?i:google\s+)?(?i:chrome|chromium|firefox|safari|brave|vivaldi)|Edge|Opera|Internet Explorer)"
        rf"(?:\s+(?i:version\s+|v)?{_NUMBER})?\b"
    ),
    re.compile(  # operating systems
        r"\b(?:Windows(?:\s+(?:11|10|8\.1|8|7|XP|Server\s+\d{4}))?"
        rf"|(?i:macos|mac\s?os(?:\s?x)?|os\s?x)(?:\s+(?:{_NUMBER}|Sequoia|Sonoma|Ventura|Monterey|Big Sur))?"
        rf"|(?i:ipados|ios|android)\s*{_NUMBER}|(?i:ubuntu|debian|fedora)(?:\s+{_NUMBER}(?:\s+LTS)?)?"
        r"|Linux|(?i:chrome\s?os))\b"
    ),
    re.compile(  # devices
        r"\b(?:iPhone(?:\s+(?:\d+|SE|XR|XS|X))?(?:\s+(?:Pro\s+Max|Pro|Plus|mini))?"
        r"|iPad(?:\s+(?:Pro|Air|mini))?|(?:Google\s+)?Pixel\s+\d+a?(?:\s+Pro)?"
        r"|(?:Samsung\s+)?Galaxy\s+[A-Z]\d+\+?(?:\s+Ultra)?|MacBook(?:\s+(?:Pro|Air))?|iMac"
        r"|Surface\s+(?:Pro|Laptop|Go)(?:\s+\d+)?|ThinkPad(?:\s+[A-Z]\d+\w*)?)"
    ),
    re.compile(  # the app's version
        r"(?i:\b(?:app\s+version|version|versión|release|build)\s*:?\s*v?\d+(?:\.\d+){0,3}\b"
        r"|\bapp\s+v?\d+(?:\.\d+){1,3}\b"
        r"|\bv\d+(?:\.\d+){1,3}\b)"
    ),
)
_MAX_ENVIRONMENT_ITEMS = 5
_ERROR_BONUS = 0.25
_WORDS = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def _candidate_sentences(ticket: TicketInput) -> list[str]:
    """Subject and body split into sentences, each stripped but otherwise verbatim."""
    pieces: list[str] = []
    for block in [ticket.subject, *(ticket.body or "").splitlines()]:
        for sentence in _SENTENCE_END.split(block):
            sentence = sentence.strip()
            if len(sentence) < 4:
                continue
            if len(sentence) > _MAX_SENTENCE_CHARS:
                # A log line or a paste: keep a verbatim prefix, cut at a word boundary.
                cut = sentence[:_MAX_SENTENCE_CHARS].rsplit(" ", 1)[0]
                sentence = cut or sentence[:_MAX_SENTENCE_CHARS]
            if sentence not in pieces:
                pieces.append(sentence)
    return pieces


def _words(sentence: str) -> set[str]:
    return {w.lower() for w in _WORDS.findall(sentence)}


def join_summary(lines: list[str]) -> str:
    """The summary's lines, one per line."""
    return "\n".join(lines)


def _ocr_candidates(ticket: TicketInput, taken: list[str]) -> list[str]:
    """OCR lines worth quoting: those that carry an error (a dialog's message, an exception line).
    Menu items and button labels read from a screenshot say nothing about the problem."""
    lines: list[str] = []
    for raw in (ticket.ocr_text or "").splitlines():
        line = strip_overlays(raw)[:_MAX_SENTENCE_CHARS]
        errorish = _EXCEPTION_LINE.search(line) or _ERRORISH.search(line) or _SCREEN_ERROR.search(line)
        if len(line) >= 8 and errorish and line not in taken:
            lines.append(line)
        if len(lines) >= _MAX_OCR_CANDIDATES:
            break
    return lines


def strip_overlays(line: str) -> str:
    """An OCR line without burned-in timestamps, timecodes and recording marks; punctuation left
    dangling by a removed overlay ("Sync error E_TIMEOUT at") is trimmed with it."""
    cleaned = " ".join(_OVERLAY.sub(" ", line).split())
    if cleaned != line.strip():
        cleaned = re.sub(r"(?:\s+(?:at|um|a las|à|às|en|in|@))+$", "", cleaned, flags=re.IGNORECASE)
        cleaned = cleaned.strip(" -|,;")
    return cleaned


def summarize(
    tickets: Sequence[TicketInput], category: SentenceScorer, category_indexes: np.ndarray
) -> list[list[str]]:
    """Per ticket, 1-3 lines: problem, error as shown, environment. All candidates of the batch are vectorized
    in one transform: per-sentence calls would dominate the per-ticket cost."""
    per_ticket: list[tuple[list[str], int]] = []
    everything: list[str] = []
    for ticket in tickets:
        candidates = _candidate_sentences(ticket) if (ticket.body or "").strip() else []
        subject = ticket.subject.strip()
        if len(candidates) > 1 and candidates[0] == subject:
            # The reviewer sees the subject above the summary: repeating it verbatim tells them nothing.
            candidates = candidates[1:]
        # A side remark ("By the way, Excel also shows an error.") is neither the ticket's problem
        # nor its error; it is listed apart on the ticket page. Kept only when nothing else is left.
        candidates = [c for c in candidates if not is_side_remark(c)] or candidates
        body_count = len(candidates)
        candidates += _ocr_candidates(ticket, candidates)
        per_ticket.append((candidates, body_count))
        everything.extend(candidates)
    similarity = (
        category.scores_for(category.transform(everything))
        if everything
        else np.zeros((0, len(category.values)))
    )
    out: list[list[str]] = []
    offset = 0
    for ticket, (candidates, body_count), index in zip(tickets, per_ticket, category_indexes, strict=True):
        rows = similarity[offset : offset + len(candidates), int(index)]
        offset += len(candidates)
        out.append(_summary_lines(ticket, candidates, body_count, rows))
    return out


def environment(text: str) -> list[str]:
    """Browser, operating system, device and app version as stated in `text`, verbatim, in that
    order, each once; a piece inside one already taken ("version 128" in "Firefox version 128")
    is not taken again."""
    taken: list[tuple[int, int]] = []
    found: list[str] = []
    for pattern in _ENVIRONMENT:
        for match in pattern.finditer(text):
            start, end = match.span()
            piece = " ".join(match.group(0).split())
            if any(start < e and s < end for s, e in taken) or piece.lower() in map(str.lower, found):
                continue
            taken.append((start, end))
            found.append(piece)
    return found[:_MAX_ENVIRONMENT_ITEMS]


def _short(line: str) -> str:
    if len(line) <= _MAX_LINE_CHARS:
        return line
    return line[:_MAX_LINE_CHARS].rsplit(" ", 1)[0] or line[:_MAX_LINE_CHARS]


def _is_error(sentence: str) -> bool:
    return bool(
        _EXCEPTION_LINE.search(sentence) or _ERRORISH.search(sentence) or _SCREEN_ERROR.search(sentence)
    )


# a greeting with its addressee: "Hello team," "Hi Anna," "Hallo zusammen,"
_ADDRESSEE = re.compile(r"(\s+[\w'-]+){0,2}\s*[,!:]")


def _without_greeting(sentence: str) -> str:
    """ "Hi, the sync stopped this morning." / "Hello team, the sync stopped this morning."
    -> "The sync stopped this morning." (a summary line starts as a sentence does)"""
    match = _GREETING.match(sentence)
    if not match:
        return sentence
    addressed = _ADDRESSEE.match(sentence, match.end())
    end = addressed.end() if addressed else match.end()
    rest = sentence[end:].lstrip(" ,!:;-")
    first_word = rest.split(maxsplit=1)[0] if rest.strip() else ""
    # not "iOS" or "eBay": only a word in lower case throughout was a sentence's lowered start
    return rest[:1].upper() + rest[1:] if first_word.islower() else rest


def _is_filler(sentence: str) -> bool:
    """A greeting or sign-off ("Thanks, Anna", "Hello team,"), or too short to say anything."""
    return len(_without_greeting(sentence).split()) < 3


def _twins(a: str, b: str) -> bool:
    """Near-repeats: most of the shorter one's words are in the other."""
    first, second = _words(a), _words(b)
    return len(first & second) >= 0.6 * min(len(first), len(second))


def _error_score(sentence: str, similarity: float) -> float:
    """How well a piece shows the error: an exception line best, a stack frame alone poorly."""
    if _EXCEPTION_LINE.search(sentence):
        return similarity + 0.35
    if _FRAME_LINE.search(sentence):
        return similarity - 0.2
    return similarity + (_ERROR_BONUS if _is_error(sentence) else 0.0)


def _problem_score(sentence: str, position: int, similarity: float, *, retold: bool, stated: bool) -> float:
    """How well a sentence of the text states the problem: close to the predicted category, early
    (the opening usually says it), carrying the error unless the screen already shows it (then
    "it says something about a timeout" only retells it)."""
    score = similarity + 0.15 / (1 + position)
    if _is_error(sentence) and not retold:
        score += _ERROR_BONUS
    if _is_filler(sentence):
        score -= 0.3
    if _STEPS.search(sentence):
        score -= 0.1  # steps say how to reproduce it, not what is wrong
    if len(sentence.split()) > 60:
        score -= 0.1
    if stated and environment(sentence) and not _is_error(sentence):
        score -= 0.15  # "I use Firefox 128 on Windows 11" is the environment line's job
    return score


def _summary_lines(
    ticket: TicketInput, candidates: list[str], body_count: int, similarity: np.ndarray
) -> list[str]:
    """Problem, error as shown, environment (see the module docstring). Candidates after
    `body_count` are OCR lines from the screenshots."""
    subject = ticket.subject.strip()
    stated = environment(f"{subject}\n{ticket.body or ''}")
    environment_line = [ENVIRONMENT_PREFIX + ", ".join(stated)] if stated else []
    if not candidates:
        fallback = subject or (ticket.body or "").strip()[:_MAX_SENTENCE_CHARS] or "(empty ticket)"
        return [_short(fallback), *environment_line]
    body = list(enumerate(candidates[:body_count]))
    screen = sorted(
        candidates[body_count:],
        key=lambda line: -_error_score(line, float(similarity[candidates.index(line)])),
    )
    written = sorted(
        ((p, s) for p, s in body if _is_error(s) and not _FRAME_LINE.search(s)),
        key=lambda t: (-_error_score(t[1], float(similarity[t[0]])), t[0]),
    )
    # The error as the screenshot shows it beats the requester's retelling of it.
    error = screen[0] if screen else (written[0][1] if written else None)
    problems = sorted(
        (
            (_problem_score(s, p, float(similarity[p]), retold=bool(screen), stated=bool(stated)), p, s)
            for p, s in body
            if s != error and s != subject and not _FRAME_LINE.search(s) and not _is_filler(s)
        ),
        key=lambda t: (-t[0], t[1]),
    )
    problems = [t for t in problems if error is None or not _twins(t[2], error)]
    if problems:
        problem = _without_greeting(problems[0][2])
    elif error is not None and not screen:
        problem, error = error, None  # the one sentence there is states the error
    else:
        # Only greetings left: the subject is all the requester said about the problem.
        problem = subject or (body[0][1] if body else "(empty ticket)")
    lines = [_short(problem)]
    if error is not None and error not in problem:
        lines.append(_short(SCREEN_PREFIX + error if screen else error))
    return lines + environment_line
