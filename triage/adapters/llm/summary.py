"""The offline summary: 1-3 pieces copied verbatim from the ticket or its screenshots' text.

Pure functions over values. Pieces are ranked by their similarity to the predicted category (a
`SentenceScorer`, the classifier's fitted category model) plus cues: an exception or error line
first, the steps a requester took, the opening. Nothing is invented.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

import numpy as np
from scipy import sparse

from triage.adapters.llm.base import TicketInput


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
# timestamps and timecodes (00:00:02.500, 12:04, 01:02:03:04), "REC", frame counters.
_OVERLAY = re.compile(
    r"\b\d{1,2}:\d{2}(?::\d{2})?(?:[.,:]\d{1,3})?\b|\bREC\b|[●•]|\bframe\s*\d+(?:\s*/\s*\d+)?\b"
    r"|\b\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_MAX_SENTENCE_CHARS = 400
_MAX_SUMMARY_SENTENCES = 3
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


def join_summary(sentences: list[str]) -> str:
    """Join verbatim sentences; one without a full stop (a subject line) gets one so it does not
    run into the next sentence. No words are added."""
    return " ".join(
        s if i == len(sentences) - 1 or s[-1:] in ".!?…:" else f"{s}." for i, s in enumerate(sentences)
    )


def _ocr_candidates(ticket: TicketInput, taken: list[str]) -> list[str]:
    """OCR lines worth quoting: those that carry an error (a dialog's message, an exception line).
    Menu items and button labels read from a screenshot say nothing about the problem."""
    lines: list[str] = []
    for raw in (ticket.ocr_text or "").splitlines():
        line = _strip_overlays(raw)[:_MAX_SENTENCE_CHARS]
        errorish = _EXCEPTION_LINE.search(line) or _ERRORISH.search(line) or _SCREEN_ERROR.search(line)
        if len(line) >= 8 and errorish and line not in taken:
            lines.append(line)
        if len(lines) >= _MAX_OCR_CANDIDATES:
            break
    return lines


def _strip_overlays(line: str) -> str:
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
    """Per ticket, 1-3 verbatim sentences or OCR lines. All candidates of the batch are vectorized
    in one transform: per-sentence calls would dominate the per-ticket cost."""
    per_ticket: list[tuple[list[str], int]] = []
    everything: list[str] = []
    for ticket in tickets:
        candidates = _candidate_sentences(ticket) if (ticket.body or "").strip() else []
        subject = ticket.subject.strip()
        if len(candidates) > 1 and candidates[0] == subject:
            # The reviewer sees the subject above the summary: repeating it verbatim tells them nothing.
            candidates = candidates[1:]
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
        out.append(_summary_sentences(ticket, candidates, body_count, rows))
    return out


def _summary_sentences(
    ticket: TicketInput, candidates: list[str], body_count: int, similarity: np.ndarray
) -> list[str]:
    """1-3 verbatim pieces: those closest to the predicted category, carrying the error or the
    steps, early. Candidates after `body_count` are OCR lines from the screenshots."""
    subject = ticket.subject.strip()
    if not candidates:
        return [subject or (ticket.body or "").strip()[:_MAX_SENTENCE_CHARS] or "(empty ticket)"]
    scored: list[tuple[float, int, str]] = []
    for position, sentence in enumerate(candidates):
        words = len(sentence.split())
        score = float(similarity[position])
        if _EXCEPTION_LINE.search(sentence):
            score += 0.35
        elif _FRAME_LINE.search(sentence):
            score -= 0.2  # the exception line says it better; a frame alone tells a reviewer little
        elif _ERRORISH.search(sentence):
            score += 0.25
        if _STEPS.search(sentence):
            score += 0.1  # what the requester did is what a developer needs to reproduce it
        if position < body_count:
            score += 0.1 / (1 + position)  # the opening usually states the problem
        else:
            score -= 0.05  # OCR may misread a letter: the requester's own words win a tie
        if words < 3 or (_GREETING.match(sentence) and words < 8):
            score -= 0.3
        if words > 60:
            score -= 0.1
        scored.append((score, position, sentence))
    ranked = sorted(scored, key=lambda t: (-t[0], t[1]))
    floor = ranked[0][0] * 0.4
    chosen: list[tuple[float, int, str]] = []
    for item in ranked:
        if chosen and item[0] < floor:
            break
        # Near-repeats (a subject restated in the first sentence): keep the fuller one.
        vocabulary = _words(item[2])
        twin = next(
            (
                c
                for c in chosen
                if len(vocabulary & _words(c[2])) >= 0.6 * min(len(vocabulary), len(_words(c[2])))
            ),
            None,
        )
        if twin is not None:
            if len(item[2]) > len(twin[2]):
                chosen[chosen.index(twin)] = item
            continue
        if len(chosen) < _MAX_SUMMARY_SENTENCES:
            chosen.append(item)
    # The error as the screenshot shows it beats the requester's paraphrase of it: when an OCR
    # error line exists and no chosen piece already quotes it, it takes the weakest piece's place.
    ocr = [item for item in ranked if item[1] >= body_count]
    if ocr and not any(item[1] >= body_count or ocr[0][2] in item[2] for item in chosen):
        if len(chosen) >= _MAX_SUMMARY_SENTENCES:
            chosen.remove(min(chosen, key=lambda t: t[0]))
        chosen.append(ocr[0])
    if all(position == 0 and sentence == subject for _, position, sentence in chosen):
        # The subject alone says little a reviewer cannot already see: add the best body sentence.
        body = next((t for t in ranked if not (t[1] == 0 and t[2] == subject)), None)
        if body is not None:
            chosen.append(body)
    return [s for _, _, s in sorted(chosen, key=lambda t: t[1])]
