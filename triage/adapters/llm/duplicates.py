"""Likely duplicates among recent tickets, from their text and the text read from their screenshots.

Pure: values in, ranked matches out. Two signals:
- the words: TF-IDF cosine over word 1-2 grams of subject, body (without its side remarks) and OCR
  text (overlays such as timestamps removed), fitted on the ticket and its candidates, so words
  every ticket of the product area uses weigh little;
- the error codes: tokens that name one error ("E_TIMEOUT", "E1042", "Q-17", "card_declined",
  "SyncAbortedException", an HTTP status, a 4+ digit reference), also weighted by how rare they
  are among the candidates. Two tickets about one incident show the same code while sharing few
  words; two tickets of one area share words and differ in the code. When the ticket shows a
  code, the codes decide most of the score.

Every match carries a reason a person can check at a glance: the shared error and where it was
seen, or the shared subject words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from triage.adapters.llm.normalize import without_side_remarks
from triage.adapters.llm.summary import strip_overlays

# Error codes as dialogs and logs show them; the order is the preference for the reason shown.
_CODE = re.compile(
    r"\b[A-Za-z]+(?:Exception|Error|Timeout)\b"  # SyncAbortedException, PaymentGatewayTimeout
    r"|\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b"  # E_TIMEOUT, AUTH_TOKEN_EXPIRED
    r"|\b[a-z]+_[a-z_]+\b"  # card_declined
    r"|\b[A-Z]{1,3}-?\d{2,5}\b"  # E1042, Q-17, P-2040
    r"|\b[45]\d\d\b|(?<![.\d])\b\d{4,}\b(?![.,]?\d)"  # an HTTP status, a reference (not "126.0.6478")
)
# A code that names one error (not a bare status or number) is what a reason should quote.
_NAMED = re.compile(r"[A-Za-z]")
_WORD = re.compile(r"[^\W\d_]{3,}")
# Weight of the code signal when both tickets carry codes; the words decide the rest.
CODE_WEIGHT = 0.6
# Below this score a candidate is not proposed. On tests/fixtures/eval/duplicates.csv (bench/duplicates.py)
# 0.5 keeps 88% of the proposals right and finds 87% of the duplicates; at 0.3 only half are right.
MIN_SCORE = 0.5
_STOP = frozenset(
    re.findall(
        r"\w+",
        "the and for with not but this that from have has was were are you your our can cannot does "
        "did when what after then there some any all und der die das ist nicht mit ich sie wir ein "
        "eine bei auf von",
    )
)


@dataclass(frozen=True)
class TicketText:
    id: int
    subject: str
    body: str
    ocr_text: str = ""


@dataclass(frozen=True)
class DuplicateMatch:
    id: int
    score: float
    reason: str


def error_codes(text: str) -> list[str]:
    """The error codes in `text`, each once, in order (case kept: "E_TIMEOUT", "card_declined")."""
    seen: list[str] = []
    for code in _CODE.findall(text):
        if code not in seen:
            seen.append(code)
    return seen


def _ocr(text: str) -> str:
    return "\n".join(strip_overlays(line) for line in text.splitlines())


def _document(ticket: TicketText) -> str:
    # Without side remarks ("By the way, the export fails too."): they name another problem on
    # purpose, and their words and codes paired a ticket with that problem's tickets.
    return f"{ticket.subject}\n{without_side_remarks(ticket.body)}\n{_ocr(ticket.ocr_text)}"


def _subject_words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)} - _STOP


def _reason(ticket: TicketText, other: TicketText, shared: list[str]) -> str:
    if shared:
        named = [c for c in shared if _NAMED.search(c)] or shared
        code = named[0]
        on_screen = code in error_codes(_ocr(ticket.ocr_text)) and code in error_codes(_ocr(other.ocr_text))
        return f"same error '{code}' {'in screenshot' if on_screen else 'in both tickets'}"
    words = sorted(_subject_words(ticket.subject) & _subject_words(other.subject))
    if words:
        return f"subject words: {', '.join(words[:4])}"
    return "similar wording"


def find_duplicates(
    ticket: TicketText,
    candidates: Sequence[TicketText],
    *,
    limit: int = 3,
    min_score: float = MIN_SCORE,
) -> list[DuplicateMatch]:
    """Up to `limit` candidates most likely about the same problem as `ticket`, best first, each
    scoring at least `min_score` (0-1)."""
    others = [c for c in candidates if c.id != ticket.id]
    if not others:
        return []
    documents = [_document(ticket)] + [_document(c) for c in others]
    words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, strip_accents="unicode", min_df=1)
    try:
        matrix = words.fit_transform(documents)
    except ValueError:  # nothing but stop words and numbers
        return []
    word_score = (matrix[1:] @ matrix[0].T).toarray().ravel()
    codes = [error_codes(d) for d in documents]
    mine = set(codes[0])
    code_score = np.zeros(len(others))
    if mine:
        # How rare each code is among the ticket and its candidates: a code every ticket shows
        # ("500") says less than one only an incident's tickets show.
        counts: dict[str, int] = {}
        for found in codes:
            for code in set(found):
                counts[code] = counts.get(code, 0) + 1
        n = len(documents)
        weight = {code: np.log((1 + n) / (1 + counts[code])) + 1 for code in counts}
        total = sum(weight[c] for c in mine)
        for index, found in enumerate(codes[1:]):
            shared = mine & set(found)
            if shared:
                code_score[index] = sum(weight[c] for c in shared) / total
    # A ticket that shows an error is a duplicate of one that shows the same error: a candidate
    # showing none (or another) can only match by its words, at their reduced weight.
    scores = (1 - CODE_WEIGHT) * word_score + CODE_WEIGHT * code_score if mine else word_score
    order = np.argsort(-scores, kind="stable")[:limit]
    matches = []
    for index in order:
        score = float(scores[index])
        if score < min_score:
            break
        other = others[int(index)]
        common = [c for c in codes[0] if c in set(codes[int(index) + 1])]
        matches.append(
            DuplicateMatch(id=other.id, score=round(score, 3), reason=_reason(ticket, other, common))
        )
    return matches
