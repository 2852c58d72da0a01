"""The offline triage model: TF-IDF similarity to the taxonomy's descriptions and examples.

A real classifier with no network and no download: each field's values are documents built from
their label, description and example phrases; a ticket is scored by cosine similarity (word 1-2
grams plus character 3-5 grams, so German compounds and accents still match), and the confidence
comes from the margin between the two best values. The summary is extractive: sentences copied
verbatim from the ticket, never invented.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from triage.adapters.llm.base import Taxonomy, TaxonomyEntry, TicketInput, TriageOutcome
from triage.adapters.llm.schema import FieldGuess, TriageResult

MODEL_NAME = "local-tfidf-1"
PROMPT_VERSION = "local-1"
FIELDS = ("category", "priority", "queue", "sentiment")

# Documented priority cues, combined with similarity: words that reliably raise or lower urgency.
_URGENT = re.compile(
    r"\b(urgent|asap|outage|down for everyone|everything is down|all (users|payments|customers)|data loss|"
    r"production|security|breach|dringend|ausgefallen|urgente|caído|panne|fora do ar)\b",
    re.IGNORECASE,
)
_LOW = re.compile(
    r"\b(question|how do i|how to|feature request|would be (nice|great)|wie kann ich|cómo|comment|como faço)\b",
    re.IGNORECASE,
)
_ERRORISH = re.compile(
    r"(error|exception|failed|fails|failure|crash|traceback|\b[45]\d\d\b|fehler|falla|erreur|erro)",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")

# Stop-word profiles: a placeholder detector until a dedicated library replaces it.
_STOPWORDS = {
    "en": [
        "the",
        "and",
        "is",
        "to",
        "of",
        "it",
        "i",
        "my",
        "in",
        "for",
        "not",
        "on",
        "with",
        "this",
        "that",
        "you",
        "we",
        "have",
        "be",
        "at",
        "when",
        "can",
        "please",
    ],
    "de": [
        "der",
        "die",
        "das",
        "und",
        "ist",
        "nicht",
        "ich",
        "wir",
        "sie",
        "mit",
        "für",
        "auf",
        "ein",
        "eine",
        "zu",
        "bei",
        "wurde",
        "bitte",
        "uns",
        "den",
        "dem",
    ],
    "es": [
        "el",
        "la",
        "los",
        "las",
        "y",
        "es",
        "no",
        "de",
        "que",
        "en",
        "un",
        "una",
        "por",
        "para",
        "con",
        "se",
        "mis",
        "mi",
        "muy",
        "pero",
        "gracias",
        "cómo",
    ],
    "fr": [
        "le",
        "la",
        "les",
        "et",
        "est",
        "pas",
        "de",
        "que",
        "en",
        "un",
        "une",
        "pour",
        "avec",
        "je",
        "nous",
        "vous",
        "ne",
        "sur",
        "mon",
        "ma",
        "merci",
    ],
    "pt": [
        "o",
        "a",
        "os",
        "as",
        "e",
        "é",
        "não",
        "de",
        "que",
        "em",
        "um",
        "uma",
        "para",
        "com",
        "eu",
        "meu",
        "minha",
        "por",
        "muito",
        "obrigado",
        "na",
        "no",
    ],
}


def detect_language(text: str) -> tuple[str, float]:
    words = re.findall(r"[a-zà-ÿ]+", text.lower())
    if not words:
        return "en", 0.2
    scores = {lang: sum(w in set(stop) for w in words) for lang, stop in _STOPWORDS.items()}
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    (best, top), (_, second) = ranked[0], ranked[1]
    if top == 0:
        return "en", 0.2
    confidence = min(0.99, 0.5 + 0.5 * (top - second) / max(top, 1))
    return best, round(confidence, 3)


def _document(entry: TaxonomyEntry) -> str:
    return " ".join([entry.label, entry.label, entry.description, *entry.examples])


class _FieldModel:
    def __init__(self, entries: tuple[TaxonomyEntry, ...]) -> None:
        self.values = [e.value for e in entries]
        self.vectorizer = FeatureUnion(
            [
                ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, strip_accents="unicode")),
                (
                    "chars",
                    TfidfVectorizer(
                        analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, strip_accents="unicode"
                    ),
                ),
            ]
        )
        self.matrix = self.vectorizer.fit_transform([_document(e) for e in entries])

    def scores(self, text: str) -> np.ndarray:
        vec = self.vectorizer.transform([text])
        # both matrices are L2-normalized per part: the dot product is a (summed) cosine
        return np.asarray((self.matrix @ vec.T).todense()).ravel() / 2.0


def _confidence(scores: np.ndarray) -> float:
    """Honest confidence: low with no overlap at all, rising with the margin over the runner-up."""
    order = np.argsort(scores)[::-1]
    top = float(scores[order[0]])
    second = float(scores[order[1]]) if len(order) > 1 else 0.0
    if top <= 0.02:
        return 0.2
    margin = (top - second) / top
    strength = 1 - math.exp(-top * 12)
    return round(min(0.95, max(0.2, 0.25 + 0.45 * margin + 0.3 * strength)), 3)


class LocalTriageModel:
    provider = "local"

    def __init__(self) -> None:
        self._cache: dict[str, dict[str, _FieldModel]] = {}
        self._lock = threading.Lock()

    def _models(self, taxonomy: Taxonomy) -> dict[str, _FieldModel]:
        key = hashlib.sha256(repr(taxonomy).encode()).hexdigest()
        with self._lock:
            if key not in self._cache:
                self._cache = {
                    key: {
                        "category": _FieldModel(taxonomy.categories),
                        "priority": _FieldModel(taxonomy.priorities),
                        "queue": _FieldModel(taxonomy.queues),
                        "sentiment": _FieldModel(taxonomy.sentiments),
                    }
                }
            return self._cache[key]

    def triage(self, ticket: TicketInput, taxonomy: Taxonomy) -> TriageOutcome:
        started = time.monotonic()
        models = self._models(taxonomy)
        text = f"{ticket.subject}\n{ticket.subject}\n{ticket.body}"
        guesses: dict[str, FieldGuess] = {}
        for name in FIELDS:
            model = models[name]
            scores = model.scores(text)
            if name == "priority":
                scores = self._priority_cues(text, model.values, scores)
            best = int(np.argmax(scores))
            guesses[name] = FieldGuess(value=model.values[best], confidence=_confidence(scores))
        language, lang_conf = detect_language(f"{ticket.subject} {ticket.body}")
        result = TriageResult(
            summary=self._summary(ticket, models["category"]),
            language=FieldGuess(value=language, confidence=lang_conf),
            **guesses,
        )
        return TriageOutcome(
            provider=self.provider,
            model=MODEL_NAME,
            prompt_version=PROMPT_VERSION,
            result=result,
            latency_ms=int((time.monotonic() - started) * 1000),
            extra={"images_seen": len(ticket.images)},
        )

    @staticmethod
    def _priority_cues(text: str, values: list[str], scores: np.ndarray) -> np.ndarray:
        adjusted = scores.copy()
        ranks = {v: i for i, v in enumerate(values)}  # taxonomy order: low ... urgent
        top_rank = len(values) - 1
        if _URGENT.search(text):
            adjusted[top_rank] += 0.15
        if _ERRORISH.search(text) and top_rank >= 2:
            adjusted[top_rank - 1] += 0.05
        if _LOW.search(text) and "low" in ranks:
            adjusted[ranks["low"]] += 0.1
        return adjusted

    @staticmethod
    def _summary(ticket: TicketInput, category: _FieldModel) -> str:
        sentences = [s.strip() for s in _SENTENCE.split(ticket.body or "") if len(s.strip()) > 3]
        if not sentences:
            return ticket.subject.strip() or "(empty ticket)"
        scored = []
        for position, sentence in enumerate(sentences):
            score = float(category.scores(sentence).max())
            score += 0.3 if _ERRORISH.search(sentence) else 0.0
            score += 0.2 / (1 + position)  # the opening usually states the problem
            scored.append((score, position, sentence))
        best = sorted(scored, reverse=True)[:2]
        return " ".join(s for _, _, s in sorted(best, key=lambda t: t[1]))[:4000]
