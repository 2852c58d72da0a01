"""Day one, with unlabelled tickets: self-training from the taxonomy's own similarity.

Before anyone reviews, tickets still arrive. Their texts say which words go together: a ticket
that matches the "billing" description on "invoice" also says "Rechnung" or "Gutschrift". One
round of self-training (Nigam et al. 2000, without the EM iterations, which drifted here)
learns that: the day-one similarity labels every unlabelled text, the surer half of each value's
texts (by the lead over the runner-up) become pseudo-labels, and a Complement naive Bayes
(Rennie et al. 2003; built for imbalanced classes, which macro-F1 rewards) over character
3-5-gram TF-IDF is fitted on them together with the taxonomy's own descriptions and example
phrases (labelled by the taxonomy, so every value keeps its words even when few texts win it).
No review label is read.

Side remarks ("By the way, the printer also jams.", "Übrigens: ...", "Por cierto, ...") name
another topic on purpose: their sentences are left out of what the day-one queue reads, both the
similarity that picks the pseudo-labels and the model fitted on them (normalize.without_side_remarks).

Settings are fixed by rules, the same for every desk, not tuned on a set (bench/RESULTS.md shows
the neighbouring settings): half of each value's texts (`SEED_SHARE`), the usual smoothing
(`ALPHA`), at least `MIN_SEEDS` per value so a rare value still exists, and the taxonomy phrases
weighing together a third of the pseudo-labelled texts (`PHRASE_WEIGHT`), whatever the number of
tickets. Only the queue is learned this way: the ticket type and priority did not gain (priority
lives on cue words the text model cannot see).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.naive_bayes import ComplementNB

SEED_SHARE = 0.5
ALPHA = 0.3
MIN_SEEDS = 3
# The taxonomy phrases together weigh this share of the pseudo-labelled texts' total weight.
PHRASE_WEIGHT = 1 / 3
MAX_TEXTS = 20_000  # the newest texts are enough; bounds fitting time and memory
MAX_FEATURES = 100_000  # character n-grams kept (the most frequent): bounds the stored model
FIELDS = ("queue",)


def _vectorizer() -> TfidfVectorizer:
    # Character n-grams within words: German compounds, inflections, typos and accents still share
    # most of their n-grams, and a bilingual desk needs no word list per language.
    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(3, 5),
        sublinear_tf=True,
        strip_accents="unicode",
        min_df=2,
        max_features=MAX_FEATURES,
        dtype=np.float32,
    )


@dataclass
class UnlabelledField:
    values: list[str]
    vectorizer: TfidfVectorizer
    classifier: ComplementNB

    def probabilities(self, cleaned: Sequence[str]) -> np.ndarray:
        """(n, len(values)); a value without any seed text gets a tiny probability."""
        matrix = self.vectorizer.transform(list(cleaned))
        out = np.full((matrix.shape[0], len(self.values)), 1e-6)
        out[:, self.classifier.classes_] = self.classifier.predict_proba(matrix)
        return out / out.sum(axis=1, keepdims=True)


@dataclass
class UnlabelledModel:
    """Fitted on unlabelled texts for one taxonomy (`taxonomy_key`); `version` is set by the
    service that stores it (empty when it is not stored)."""

    taxonomy_key: str
    fields: dict[str, UnlabelledField]
    n_texts: int
    version: str = ""


def seed_labels(prior: np.ndarray, share: float = SEED_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """(row indices, value indices): per value, the surer `share` of the texts it wins."""
    best = prior.argmax(axis=1)
    ordered = np.sort(prior, axis=1)
    lead = ordered[:, -1] - ordered[:, -2] if prior.shape[1] > 1 else ordered[:, -1]
    rows: list[int] = []
    labels: list[int] = []
    for value in range(prior.shape[1]):
        members = np.flatnonzero(best == value)
        if not len(members):
            continue
        keep = members[np.argsort(-lead[members], kind="stable")][
            : max(MIN_SEEDS, int(np.ceil(share * len(members))))
        ]
        rows.extend(int(r) for r in keep)
        labels.extend([value] * len(keep))
    return np.asarray(rows, dtype=int), np.asarray(labels, dtype=int)


def phrase_weight(n_seeds: int, n_phrases: int) -> float:
    """Weight of one taxonomy phrase: all phrases together weigh PHRASE_WEIGHT of the seeds."""
    return PHRASE_WEIGHT * n_seeds / max(1, n_phrases)


def fit_unlabelled(
    cleaned: Sequence[str],
    prior: Callable[[str], np.ndarray],
    values: Callable[[str], list[str]],
    *,
    taxonomy_key: str,
    phrases: Callable[[str], Sequence[tuple[str, int]]] = lambda name: (),
) -> UnlabelledModel | None:
    """`cleaned`: the texts as the day-one model reads them (stop words and side remarks removed);
    `prior(field)`: day-one probabilities of those texts; `phrases(field)`: the taxonomy's own
    (cleaned phrase, value index) pairs. None when there is too little to learn from."""
    texts = list(cleaned)[-MAX_TEXTS:]
    fields: dict[str, UnlabelledField] = {}
    for name in FIELDS:
        names = values(name)
        probabilities = prior(name)[-len(texts) :] if texts else np.zeros((0, len(names)))
        rows, labels = seed_labels(probabilities)
        if len(set(labels.tolist())) < 2:
            continue
        vectorizer = _vectorizer()
        try:
            matrix = vectorizer.fit_transform(texts)
        except ValueError:  # no n-gram occurs twice
            continue
        # the n-grams left out (rare ones): introspection only, and the bulk of a pickled vectorizer
        vectorizer.stop_words_ = None
        taxonomy = list(phrases(name))
        parts, targets, weights = [matrix[rows]], [labels], [np.ones(len(rows))]
        if taxonomy:
            parts.append(vectorizer.transform([text for text, _ in taxonomy]))
            targets.append(np.asarray([value for _, value in taxonomy], dtype=int))
            weights.append(np.full(len(taxonomy), phrase_weight(len(rows), len(taxonomy))))
        classifier = ComplementNB(alpha=ALPHA).fit(
            sparse.vstack(parts, format="csr"), np.concatenate(targets), sample_weight=np.concatenate(weights)
        )
        fields[name] = UnlabelledField(values=names, vectorizer=vectorizer, classifier=classifier)
    if not fields:
        return None
    return UnlabelledModel(taxonomy_key=taxonomy_key, fields=fields, n_texts=len(texts))
