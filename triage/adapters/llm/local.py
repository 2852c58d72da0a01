"""The offline triage model: TF-IDF similarity to the taxonomy's descriptions and examples.

A real classifier with no network and no download. For each field, every taxonomy value is a
document built from its label, description and example phrases; a ticket is scored by cosine
similarity over word 1-2 grams plus character 3-5 grams (so German compounds, inflections and
accents still match across languages). Each value's score blends the similarity to the whole
document with the best similarity to a single example phrase, because a short ticket usually
matches one example far better than the whole description.

Confidence is a softmax over those scores (temperature 0.08): equal scores give the chance level
(1/number of values); it is damped to <= 0.35 when even the best match is weak (no overlap at
all), and capped by how many distinct content words the ticket has, because three words matching
one example phrase are little evidence. Priority and sentiment add documented cue words to the
similarity; the queue also looks at the predicted category's description.

The summary is extractive: 1-3 sentences copied verbatim from the ticket, never invented.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sklearn
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from triage.adapters.llm import dayone, language, learned
from triage.adapters.llm.base import Taxonomy, TaxonomyEntry, TicketInput, TriageOutcome
from triage.adapters.llm.learned import TrainedModel
from triage.adapters.llm.normalize import (
    classifier_body,
    side_remarks,
    without_asides,
    without_courtesy,
)
from triage.adapters.llm.schema import FieldGuess, TriageResult
from triage.adapters.llm.summary import join_summary, summarize
from triage.adapters.llm.text_budget import language_sample
from triage.adapters.llm.tfidf import SMALL_BATCH, union_transform, unions_transform
from triage.fields import TAXONOMY_FIELDS

MODEL_NAME = "local-tfidf-2"
PROMPT_VERSION = "local-2"
FIELDS = TAXONOMY_FIELDS
# Scale words ("Low", "Neutral") describe no content, and their character n-grams match by
# accident ("slow" contains "low"): these fields' values are matched by their descriptions only.
_SCALE_FIELDS = frozenset({"priority", "sentiment"})

# Softmax temperature over blended cosine scores. Measured on the default taxonomy: a clear
# ticket's best category leads the runner-up by 0.3-0.6 (confidence >= 0.85), while a lead under
# 0.1 over eight categories stays below ~0.35.
_TEMPERATURE = 0.08
# A best score below this is "barely any overlap": confidence is scaled down towards 0.
_STRONG_SCORE = 0.12
_NO_OVERLAP_CAP = 0.35
_MAX_CONFIDENCE = 0.95
_CACHE_SIZE = 4  # taxonomies kept fitted; an admin edit creates a new one, the old ages out

# --- documented cues --------------------------------------------------------------------------
# Priority: similarity alone cannot see urgency words the taxonomy's examples do not contain.
# Priorities are assumed to be listed from lowest to highest (the defaults and the admin's
# `position` order): cues move the score of the highest / lowest value.
_URGENT = re.compile(
    r"\b(urgent|urgently|asap|outage|down for everyone|everything is down|is down|all (users|payments|customers)"
    r"|data loss|lost (all|our) data|production|security (incident|breach)|breach|"
    r"dringend|ausgefallen|produktion|datenverlust|urgente|caído|caida|producción|"
    r"panne|en production|perte de données|fora do ar|produção|perda de dados)\b",
    re.IGNORECASE,
)
_HIGH = re.compile(
    r"\b(blocked|cannot work|can't work|charged twice|locked out|deadline|"
    r"blockiert|bloqueado|bloqueados|bloqué|bloqués)\b",
    re.IGNORECASE,
)
_LOW = re.compile(
    r"\b(question|how do i|how can i|how to|feature request|would be (nice|great)|nice to have|"
    r"no rush|not urgent|when you have time|wie kann ich|frage|cómo|pregunta|comment puis-je|"
    r"comment faire|question rapide|como faço|dúvida|pergunta)\b",
    re.IGNORECASE,
)
# Sentiment: TF-IDF similarity to "Frustrated, angry..." is weak evidence, so a small lexicon
# per language and shouting (!!, runs of capitals) carry most of the signal.
_SHOUTING = re.compile(r"!!|\b[A-Z]{4,}\b(?:\s+\b[A-Z]{2,}\b)+")
_NEGATIVE = re.compile(
    r"\b(unacceptable|frustrat\w*|angry|annoy\w*|terrible|awful|worst|ridiculous|disappoint\w*|"
    r"still (broken|not)|again and again|cancel|refund now|furious|"
    r"inakzeptabel|verärgert|ärgerlich|enttäuscht|frustriert|unmöglich|"
    r"inaceptable|molesto|harto|decepcionado|furioso|"
    r"inadmissible|inacceptable|énervé|déçu|déçue|furieux|"
    r"inaceitável|irritado|decepcionado|absurdo|péssimo)\b",
    re.IGNORECASE,
)
# Courtesy ("Thanks in advance.", "Vielen Dank.") is removed before these are counted (normalize.py
# without_courtesy). A thanks left within a sentence is weak evidence; praise and relief ("works
# perfectly now", "resuelto") are strong, unless negated ("not resolved", "nicht gelöst").
_NOT = r"(?<!not )(?<!n't )(?<!no )(?<!nicht )(?<!não )(?<!pas )"
_THANKFUL = re.compile(r"\b(thanks|thank you|danke|gracias|merci|obrigad[oa])\b", re.IGNORECASE)
_PRAISE = re.compile(
    rf"\b{_NOT}(love|great|awesome|appreciate\w*|excellent|perfect\w*|resolved|solved|helpful|"
    r"perfekt|gelöst|hilfreich|genial|perfect[oa]|resuelto|génial|parfait|résolu|ótimo|perfeit[oa]|"
    r"resolvido)\b",
    re.IGNORECASE,
)
# Priority and sentiment similarity is scaled down: their documents ("Low", "Neutral") are
# generic, so lexical overlap is mostly accidental there and the cues should dominate.
_CUE_FIELD_SIMILARITY = 0.5


# --- function words -------------------------------------------------------------------------------
# Removed before similarity (see _clean); language.py also counts them to decide short texts.
_STOPWORDS: Mapping[str, frozenset[str]] = language.FUNCTION_WORDS
_WORDS = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def detect_language(text: str, *, accuracy: str = language.DEFAULT_ACCURACY) -> tuple[str, float]:
    """(ISO 639-1 code, confidence) from the dedicated offline detector (language.py)."""
    return language.detect_language(text, accuracy=accuracy)


# --- the classifier ---------------------------------------------------------------------------


# Function words of all five languages are noise for similarity (Portuguese "muito" is in both
# "muito obrigado" and "muito irritado"), so they are removed from tickets and taxonomy documents
# alike before vectorizing; the character n-grams still see every content word.
# Thanks, question and negation words stay: they are what the sentiment, how-to and
# access examples are made of ("cannot log in", "muchas gracias", "¿cómo exporto?").
_KEEP = frozenset({"gracias", "merci", "obrigado", "cómo", "cannot", "keine"})
_ALL_STOPWORDS = frozenset(w for words in _STOPWORDS.values() for w in words) - _KEEP


def _clean(text: str) -> str:
    return _WORDS.sub(lambda m: " " if m.group(0).lower() in _ALL_STOPWORDS else m.group(0), text)


def _vectorizer() -> FeatureUnion:
    return FeatureUnion(
        [
            (
                "words",
                TfidfVectorizer(
                    ngram_range=(1, 2), sublinear_tf=True, lowercase=True, strip_accents="unicode"
                ),
            ),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=(3, 5),
                    sublinear_tf=True,
                    lowercase=True,
                    strip_accents="unicode",
                ),
            ),
        ]
    )


def _document(entry: TaxonomyEntry, *, use_label: bool) -> str:
    parts = [entry.label if use_label else "", entry.description, *entry.examples]
    if not _clean(" ".join(parts)).strip():
        # A bare entry (no description, no examples): its name is all there is to match.
        parts = [entry.label, entry.value.replace("_", " ")]
    return "\n".join(parts)


class _FieldModel:
    """One field's fitted vectorizer, value documents and example phrases."""

    def __init__(self, entries: tuple[TaxonomyEntry, ...], *, use_labels: bool = True) -> None:
        if not entries:
            raise ValueError("a taxonomy field has no values")
        self.values = [e.value for e in entries]
        self.vectorizer = _vectorizer()
        docs = [_document(e, use_label=use_labels) for e in entries]
        phrases: list[str] = []
        owners: list[int] = []
        for index, entry in enumerate(entries):
            # Not the label: a one-word label ("Low") would match any word containing it ("slow").
            for phrase in (entry.description, *entry.examples):
                if phrase.strip():
                    phrases.append(phrase)
                    owners.append(index)
        if not phrases:  # bare entries: the documents are the only phrases there are
            phrases, owners = list(docs), list(range(len(docs)))
        docs = [_clean(d) for d in docs]
        phrases = [_clean(p) for p in phrases]
        self.vectorizer.fit(docs + phrases)
        self.doc_matrix = self.vectorizer.transform(docs)
        self.phrase_matrix = self.vectorizer.transform(phrases)
        self.phrase_owner = np.asarray(owners)
        # n-gram -> (document, then phrase) weights: one ticket's scores are a gather of its n-grams' rows
        self._by_ngram = sparse.vstack([self.doc_matrix, self.phrase_matrix], format="csr").T.tocsr()

    def transform(self, texts: list[str]) -> sparse.csr_matrix:
        return union_transform(self.vectorizer, [_clean(t) for t in texts])

    def scores_for(self, vectors: sparse.csr_matrix) -> np.ndarray:
        """(n_texts, n_values) blended cosine scores. Each part of the union is L2-normalized, so
        a dot product divided by 2 is the mean of the word and the character cosine."""
        if vectors.shape[0] <= SMALL_BATCH:  # scipy's checks and conversions cost more
            both = _gather_products(vectors, self._by_ngram) / 2.0
            doc, per_phrase = both[:, : len(self.values)], both[:, len(self.values) :]
        else:
            doc = (vectors @ self.doc_matrix.T).toarray() / 2.0
            per_phrase = (vectors @ self.phrase_matrix.T).toarray() / 2.0
        best_phrase = np.zeros_like(doc)
        for index in range(len(self.values)):
            mask = self.phrase_owner == index
            if mask.any():
                best_phrase[:, index] = per_phrase[:, mask].max(axis=1)
        return 0.5 * doc + 0.5 * best_phrase

    def scores(self, text: str) -> np.ndarray:
        return self.scores_for(self.transform([text]))[0]


def _gather_products(vectors: sparse.csr_matrix, by_ngram: sparse.csr_matrix) -> np.ndarray:
    """(n, m) = vectors (n, d) @ by_ngram (d, m), summing the rows of `by_ngram` that each text's
    n-grams select, weighted by the text's values."""
    out = np.zeros((vectors.shape[0], by_ngram.shape[1]))
    indptr, columns = by_ngram.indptr, by_ngram.indices
    for row in range(vectors.shape[0]):
        start, end = vectors.indptr[row], vectors.indptr[row + 1]
        ngrams, values = vectors.indices[start:end], vectors.data[start:end]
        first = indptr[ngrams]
        counts = indptr[ngrams + 1] - first
        total = int(counts.sum())
        if not total:
            continue
        # positions of every selected row's entries in by_ngram's arrays
        position = np.repeat(first - np.cumsum(counts) + counts, counts) + np.arange(total)
        weights = by_ngram.data[position] * np.repeat(values, counts)
        out[row] = np.bincount(columns[position], weights=weights, minlength=by_ngram.shape[1])
    return out


def _confidence(scores: np.ndarray) -> float:
    """Softmax probability of the best value, damped when even the best match is weak."""
    shifted = (scores - scores.max()) / _TEMPERATURE
    probabilities = np.exp(shifted) / np.exp(shifted).sum()
    top = float(scores.max())
    confidence = float(probabilities.max())
    if top < _STRONG_SCORE:
        confidence = min(confidence, _NO_OVERLAP_CAP) * max(top / _STRONG_SCORE, 0.25)
    return round(min(_MAX_CONFIDENCE, max(0.01, confidence)), 3)


def _evidence_cap(text: str) -> float:
    """Confidence ceiling from the number of distinct content words: 1 -> 0.35, 7+ -> 0.95."""
    content = {w for w in _WORDS.findall(text.lower()) if len(w) > 1 and w not in _ALL_STOPWORDS}
    return round(min(_MAX_CONFIDENCE, 0.25 + 0.1 * len(content)), 3)


@dataclass(frozen=True)
class _Models:
    key: str
    fields: dict[str, _FieldModel]
    category_docs: tuple[str, ...]  # label + description per category, to route the queue
    queue_by_category: np.ndarray  # (n_categories, n_queues): queue scores of each category's description


def taxonomy_key(taxonomy: Taxonomy) -> str:
    return taxonomy.fingerprint


def ticket_text(ticket: TicketInput) -> str:
    """What the classifiers read (the day-one similarity, training and serving alike). The subject is
    the requester's own one-line summary: weighted double. The body without quoted mail and its
    sign-off (normalize.py). Text read from screenshots and frames counts like the body (error
    dialogs name the problem)."""
    body = classifier_body(ticket.body)
    return "\n".join([ticket.subject, ticket.subject, body, *ticket.notes, ticket.ocr_text])


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp((scores - scores.max()) / _TEMPERATURE)
    return shifted / shifted.sum()


class LocalTriageModel:
    """Day one: taxonomy similarity plus documented cues. With a `TrainedModel` (learned.py, trained
    on reviewed tickets) its classifiers decide each field whose values still match the taxonomy,
    reading the day-one probabilities as features, and their calibrated confidence is reported."""

    provider = "local"
    accepts_video = False

    def __init__(
        self,
        *,
        trained: TrainedModel | None = None,
        language_accuracy: str = language.DEFAULT_ACCURACY,
        unlabelled: dayone.UnlabelledModel | None = None,
    ) -> None:
        # Day one fitted on unreviewed tickets' texts (dayone.py). A trained model was fitted on the
        # plain day-one probabilities as features, so with one the plain day one is what it reads.
        self.unlabelled = unlabelled if trained is None else None
        self._cache: OrderedDict[str, _Models] = OrderedDict()
        self._lock = threading.Lock()  # the llm queue runs a thread pool; fit each taxonomy once
        self.trained = trained
        self.language_accuracy = language_accuracy

    @property
    def model(self) -> str:
        """Recorded on every TriageRun: which stored version (trained, or day one fitted on
        unreviewed tickets), if any, decided."""
        return f"{MODEL_NAME}+{self.version}" if self.version != "day-one" else MODEL_NAME

    @property
    def version(self) -> str:
        if self.trained is not None:
            return self.trained.version
        if self.unlabelled is not None and self.unlabelled.version:
            return self.unlabelled.version
        return "day-one"

    @staticmethod
    def _taxonomy_key(taxonomy: Taxonomy) -> str:
        return taxonomy_key(taxonomy)

    def _models(self, taxonomy: Taxonomy) -> _Models:
        key = self._taxonomy_key(taxonomy)
        with self._lock:
            models = self._cache.get(key)
            if models is None:
                fields = {
                    name: _FieldModel(taxonomy.entries(name), use_labels=name not in _SCALE_FIELDS)
                    for name in FIELDS
                }
                category_docs = tuple(f"{e.label}. {e.description}" for e in taxonomy.categories)
                queue = fields["queue"]
                models = _Models(
                    key=key,
                    fields=fields,
                    category_docs=category_docs,
                    queue_by_category=queue.scores_for(queue.transform(list(category_docs))),
                )
                self._cache[key] = models
                while len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(key)
            return models

    def _unlabelled_queue_serves(self, models: _Models) -> bool:
        """Whether the day-one queue fitted on unreviewed tickets is this taxonomy's (and so decides)."""
        unlabelled = self.unlabelled
        return (
            unlabelled is not None and unlabelled.taxonomy_key == models.key and "queue" in unlabelled.fields
        )

    def _prior(
        self, texts: list[str], models: _Models
    ) -> tuple[dict[str, np.ndarray], list[dict[str, float]]]:
        """Day-one scores per field, (n, n_values), and confidences per text, for a batch of texts.

        One transform per field for the whole batch: sklearn's per-call overhead (~1 ms) dominated
        the per-ticket cost when each text was transformed on its own.
        """
        fields = models.fields
        unlabelled = self.unlabelled
        learned_queue_on = self._unlabelled_queue_serves(models)
        read = [name for name in FIELDS if not (name == "queue" and learned_queue_on)]
        cleaned = [_clean(t) for t in texts]
        # The sentiment reads the texts without their courtesy ("Vielen Dank." after a complaint).
        felt = [without_courtesy(t) for t in texts]
        shared = read if felt == texts else [name for name in read if name != "sentiment"]
        vectors = dict(
            zip(shared, unions_transform([fields[name].vectorizer for name in shared], cleaned), strict=True)
        )
        if "sentiment" not in vectors:
            vectors["sentiment"] = union_transform(fields["sentiment"].vectorizer, [_clean(t) for t in felt])
        scores: dict[str, np.ndarray] = {}
        scores["category"] = fields["category"].scores_for(vectors["category"])
        category_index = scores["category"].argmax(axis=1)
        category_confidence = [_confidence(row) for row in scores["category"]]

        # The queue follows mostly from what the ticket is about: score the ticket text and the
        # predicted category's own description (weighted by how sure that prediction is), so a
        # Spanish login ticket reaches the queue whose description mentions "account access".
        learned_queue: np.ndarray | None = None
        by_text: np.ndarray | None = None
        if unlabelled is not None and learned_queue_on:
            # Self-trained on unlabelled tickets: its probabilities replace the similarity (which
            # is then not computed), as scores whose softmax (temperature _TEMPERATURE) gives
            # those probabilities back.
            learned_queue = unlabelled.fields["queue"].probabilities(dayone_texts(texts))
            scores["queue"] = _TEMPERATURE * np.log(learned_queue)
        else:
            by_text = fields["queue"].scores_for(vectors["queue"])
            by_category = models.queue_by_category[category_index]
            scores["queue"] = by_text + np.asarray(category_confidence)[:, None] * by_category

        priority = _CUE_FIELD_SIMILARITY * fields["priority"].scores_for(vectors["priority"])
        scores["priority"] = np.vstack(
            [_priority_cues(t, row) for t, row in zip(texts, priority, strict=True)]
        )
        sentiment = fields["sentiment"]
        similarity = _CUE_FIELD_SIMILARITY * sentiment.scores_for(vectors["sentiment"])
        scores["sentiment"] = np.vstack(
            [_sentiment_cues(t, sentiment.values, row) for t, row in zip(felt, similarity, strict=True)]
        )
        for name in FIELDS:  # any other field: its values' descriptions and examples alone
            if name not in scores:
                scores[name] = fields[name].scores_for(vectors[name])

        chance = {name: round(1 / len(fields[name].values), 3) for name in FIELDS}
        confidences = []
        for i, text in enumerate(texts):
            # Few content words are little evidence however well they match one example phrase
            # ("It does not work" is one word after stop words): cap every field's confidence.
            cap = _evidence_cap(text)
            confidence = {name: min(cap, _confidence(scores[name][i])) for name in FIELDS}
            if learned_queue is not None:
                confidence["queue"] = round(max(0.01, min(cap, float(learned_queue[i].max()))), 3)
            elif by_text is not None:
                # The queue is no surer than the better of its two sources of evidence.
                confidence["queue"] = min(
                    confidence["queue"], max(_confidence(by_text[i]), category_confidence[i])
                )
            # Damped for weak evidence, but never below chance: of k values the likeliest has at
            # least 1/k (a ticket with nothing to go on shows 25% on four priorities, not 16%).
            for name in FIELDS:
                confidence[name] = max(confidence[name], chance[name])
            confidences.append(confidence)
        return scores, confidences

    def prior_probabilities(self, texts: list[str], taxonomy: Taxonomy) -> dict[str, np.ndarray]:
        """Day-one probabilities per field, (len(texts), n_values): the learned model's prior features."""
        if not texts:
            return {name: np.zeros((0, len(taxonomy.values(name)))) for name in FIELDS}
        with _fast_sklearn():
            scores, _ = self._prior(texts, self._models(taxonomy))
        return {name: np.vstack([_softmax(row) for row in scores[name]]) for name in FIELDS}

    def triage(self, ticket: TicketInput, taxonomy: Taxonomy) -> TriageOutcome:
        return self.triage_many([ticket], taxonomy)[0]

    def triage_many(self, tickets: Sequence[TicketInput], taxonomy: Taxonomy) -> list[TriageOutcome]:
        """Triage a batch in one pass per field (the evaluation and the benchmark use batches)."""
        started = time.monotonic()
        with _fast_sklearn():
            models = self._models(taxonomy)
            fields = models.fields
            texts = [ticket_text(t) for t in tickets]
            scores, confidences = self._prior(texts, models)
            chosen = {name: scores[name].argmax(axis=1) for name in FIELDS}
            decided_by = dict.fromkeys(FIELDS, "day-one")
            unlabelled = self.unlabelled
            if unlabelled is not None and unlabelled.taxonomy_key == models.key:
                for name in unlabelled.fields:
                    decided_by[name] = unlabelled.version or "day-one-unlabelled"
            trained = self.trained
            learned_fields = [n for n in FIELDS if trained is not None and trained.matches(taxonomy, n)]
            if trained is not None and learned_fields:
                prior = {n: np.vstack([_softmax(row) for row in scores[n]]) for n in FIELDS}
                predictions = trained.predict(texts, prior, fields=learned_fields)
                for name in learned_fields:
                    probabilities, calibrated = predictions[name]
                    chosen[name] = probabilities.argmax(axis=1)
                    for i, confidence in enumerate(confidences):
                        confidence[name] = round(max(0.01, float(calibrated[i])), 3)
                    decided_by[name] = trained.version
            # The side remarks a deciding model left out (a trained version, or the day-one queue
            # fitted on unreviewed tickets): shown beside the proposal, so a reviewer sees why a
            # "By the way, ..." did not move the queue, and that it may need a ticket of its own.
            left_out = (
                trained is not None and bool(learned_fields) and trained.drops_side_remarks
            ) or self._unlabelled_queue_serves(models)
            summaries = summarize(tickets, fields["category"], chosen["category"])
        per_ticket_ms = int((time.monotonic() - started) * 1000 / max(1, len(tickets)))
        outcomes = []
        for i, ticket in enumerate(tickets):
            guesses: dict[str, Any] = {  # the taxonomy fields: TriageResult's FieldGuesses
                name: FieldGuess(
                    value=fields[name].values[int(chosen[name][i])], confidence=confidences[i][name]
                )
                for name in FIELDS
            }
            language_code, lang_conf = detect_language(
                language_sample(f"{ticket.subject}\n{ticket.body}"), accuracy=self.language_accuracy
            )
            guesses["language"] = FieldGuess(value=language_code, confidence=lang_conf)
            result = TriageResult(summary=join_summary(summaries[i])[:4000], **guesses)
            outcomes.append(
                TriageOutcome(
                    provider=self.provider,
                    model=self.model,
                    prompt_version=PROMPT_VERSION,
                    result=result,
                    latency_ms=per_ticket_ms,
                    extra={
                        "images_seen": len(ticket.images),
                        "ocr_chars": len(ticket.ocr_text),
                        "model_version": self.version,
                        "decided_by": decided_by,
                        "side_remarks": side_remarks(texts[i]) if left_out else [],
                        "summary_sentences": summaries[i],
                        "scores": {
                            name: {
                                v: round(float(x), 4)
                                for v, x in zip(fields[name].values, scores[name][i], strict=True)
                            }
                            for name in FIELDS
                        },
                    },
                )
            )
        return outcomes


def _fast_sklearn() -> contextlib.AbstractContextManager:
    """Inference on inputs we built ourselves: skip sklearn's per-call validation (~40% of a call)."""
    return sklearn.config_context(assume_finite=True, skip_parameter_validation=True)


def _priority_cues(text: str, scores: np.ndarray) -> np.ndarray:
    """Similarity plus documented cues: urgency words raise the highest value, blocking words the
    second-highest, question words the lowest; with no cue the second-lowest ("normal") wins over
    weak similarity, because most tickets are ordinary."""
    adjusted = scores.copy()
    n = len(adjusted)
    if n < 2:
        return adjusted
    urgent, high, low = (len(p.findall(text)) for p in (_URGENT, _HIGH, _LOW))
    adjusted[n - 1] += 0.08 * min(urgent, 3)
    if n >= 3:
        adjusted[n - 2] += 0.06 * min(high, 2)
        adjusted[1] += 0.04
    adjusted[0] += 0.06 * min(low, 2)
    return adjusted


def _sentiment_cues(text: str, values: list[str], scores: np.ndarray) -> np.ndarray:
    """Similarity plus a small multilingual lexicon; plain reports default to neutral. A thanks
    weighs less than a complaint or praise word: "thanks, please fix it" is a request."""
    adjusted = scores.copy()
    if "negative" in values:
        hits = len(_NEGATIVE.findall(text)) + len(_SHOUTING.findall(text))
        adjusted[values.index("negative")] += 0.08 * min(hits, 3)
    if "positive" in values:
        praise = 0.1 * min(len(_PRAISE.findall(text)), 2)
        adjusted[values.index("positive")] += praise + 0.04 * min(len(_THANKFUL.findall(text)), 2)
    if "neutral" in values:
        adjusted[values.index("neutral")] += 0.05
    return adjusted


def local_model_train(
    *,
    labeled: Sequence[tuple[TicketInput, Mapping[str, str]]],
    taxonomy: Taxonomy,
    version: str,
    base: LocalTriageModel | None = None,
) -> TrainedModel:
    """Train the learned classifiers on reviewed tickets (ticket, {field: true value}).

    The texts are built exactly as `triage()` builds them, and the day-one model of the same
    taxonomy provides the prior features, so training and serving see the same inputs.
    """
    day_one = LocalTriageModel(language_accuracy=base.language_accuracy) if base else LocalTriageModel()
    samples = [learned.Sample(text=ticket_text(ticket), labels=dict(labels)) for ticket, labels in labeled]
    return learned.train(
        samples=samples,
        taxonomy=taxonomy,
        prior=lambda texts: day_one.prior_probabilities(texts, taxonomy),
        version=version,
        taxonomy_key=taxonomy_key(taxonomy),
    )


def dayone_texts(texts: Sequence[str]) -> list[str]:
    """What the day-one queue learned from unlabelled tickets reads: the text without its asides
    (side remarks, apologies for writing; normalize.without_asides) and stop words."""
    return [_clean(without_asides(t)) for t in texts]


def _dayone_phrases(entries: Sequence[TaxonomyEntry]) -> list[tuple[str, int]]:
    """(cleaned phrase, value index): each value's label with its description, and its examples."""
    pairs: list[tuple[str, int]] = []
    for index, entry in enumerate(entries):
        cleaned = (_clean(p) for p in (f"{entry.label} {entry.description}", *entry.examples))
        pairs.extend((phrase, index) for phrase in cleaned if phrase.strip())
    return pairs


def local_model_fit_unlabelled(
    tickets: Sequence[TicketInput], taxonomy: Taxonomy
) -> dayone.UnlabelledModel | None:
    """Day one from unreviewed tickets' texts (no labels read): see dayone.py."""
    texts = [without_asides(ticket_text(t)) for t in tickets]
    day_one = LocalTriageModel()
    with _fast_sklearn():
        models = day_one._models(taxonomy)
        fields = models.fields
        by_text = {name: fields[name].scores_for(fields[name].transform(texts)) for name in dayone.FIELDS}
    return dayone.fit_unlabelled(
        [_clean(t) for t in texts],
        # The field's own similarity, not routed through the predicted category (+0.03 queue).
        lambda name: np.vstack([_softmax(row) for row in by_text[name]]),
        lambda name: list(fields[name].values),
        taxonomy_key=models.key,
        phrases=lambda name: _dayone_phrases(taxonomy.entries(name)),
    )
