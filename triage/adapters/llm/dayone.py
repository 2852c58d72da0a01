"""Day one, with unlabelled tickets: self-training from the taxonomy's own similarity.

Before anyone reviews, tickets still arrive. Their texts say which words go together: a ticket
that matches the "billing" description on "invoice" also says "Rechnung" or "Gutschrift". One
round of self-training (Nigam et al. 2000, without the EM iterations, which drifted here)
learns that: the day-one similarity labels every unlabelled text, the surer half of each value's
texts (by the lead over the runner-up) become pseudo-labels, and a Complement naive Bayes
(Rennie et al. 2003; built for imbalanced classes, which macro-F1 rewards) over word TF-IDF is
fitted on them. No review label is read. Fitting 1,700 texts takes well under a second.

Settings are fixed from principles, not tuned on a set: half of each value's texts (`SEED_SHARE`),
the usual smoothing (`ALPHA`), at least `MIN_SEEDS` per value so a rare value still exists.
Only the queue is learned this way: the ticket type and priority did not gain (priority lives
on cue words the text model cannot see).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.naive_bayes import ComplementNB

SEED_SHARE = 0.5
ALPHA = 0.3
MIN_SEEDS = 3
MAX_TEXTS = 20_000  # the newest texts are enough; bounds fitting time and memory
FIELDS = ("queue",)


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
    """Fitted on unlabelled texts for one taxonomy (`taxonomy_key`)."""

    taxonomy_key: str
    fields: dict[str, UnlabelledField]
    n_texts: int


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


def fit_unlabelled(
    cleaned: Sequence[str],
    prior: Callable[[str], np.ndarray],
    values: Callable[[str], list[str]],
    *,
    taxonomy_key: str,
) -> UnlabelledModel | None:
    """`cleaned`: the texts as the day-one model reads them (stop words removed); `prior(field)`:
    day-one probabilities of those texts; None when there is too little to learn from."""
    texts = list(cleaned)[-MAX_TEXTS:]
    fields: dict[str, UnlabelledField] = {}
    for name in FIELDS:
        names = values(name)
        probabilities = prior(name)[-len(texts) :] if texts else np.zeros((0, len(names)))
        rows, labels = seed_labels(probabilities)
        if len(set(labels.tolist())) < 2:
            continue
        vectorizer = TfidfVectorizer(sublinear_tf=True, strip_accents="unicode", min_df=2)
        try:
            matrix = vectorizer.fit_transform(texts)
        except ValueError:  # no word occurs twice
            continue
        classifier = ComplementNB(alpha=ALPHA).fit(matrix[rows], labels)
        fields[name] = UnlabelledField(values=names, vectorizer=vectorizer, classifier=classifier)
    if not fields:
        return None
    return UnlabelledModel(taxonomy_key=taxonomy_key, fields=fields, n_texts=len(texts))
