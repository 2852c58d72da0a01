"""The learned half of the offline model: classifiers trained on the taxonomy and on reviewed tickets.

Pure: samples in, a `TrainedModel` value out; no ORM, no settings, no files (the service stores it).

Per field, one class-balanced linear SVM (C=1) per value (one-vs-rest) reads two things about a ticket:
- word 1-2-gram and character 2-5-gram TF-IDF of its text (subject, body, OCR text), each n-gram
  scaled by how much likelier it is among that value's tickets than among the others' (NBSVM), and
- the day-one model's probabilities for that field (the taxonomy similarity plus its documented
  cues), so what the taxonomy says keeps counting while reviewed tickets teach the rest.
Its training set is the taxonomy itself (each description and example phrase is one labeled
sample, so every value exists from the start) plus the reviewed tickets, minus the reviews whose
label looks wrong: a K-fold pass predicts each review from models that never saw it, and a review
whose own label scores clearly below another value (margin NOISE_MARGIN) is left out. Reviewers
make mistakes (hurried clicks, the previous queue kept); one wrong label among a handful of
examples of a rare value moves its boundary more than the many right ones do.

Confidence is calibrated on held-out reviews only: K-fold over the reviewed tickets gives each
one a prediction from a model that never saw it; an isotonic map from raw probability to observed
accuracy is fitted on those out-of-fold predictions. The reliability table reported with the model
is itself cross-fitted (fold i's points are calibrated by a map fitted on the other folds), so it
shows how the confidence the app displays behaves on tickets no part of the model has seen.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import f1_score
from sklearn.pipeline import FeatureUnion
from sklearn.svm import LinearSVC

from triage.adapters.llm.base import Taxonomy, TaxonomyEntry
from triage.adapters.llm.tfidf import union_transform
from triage.fields import TAXONOMY_FIELDS as FIELDS

# A reviewed ticket is real evidence about this desk; a taxonomy phrase is a hint.
REVIEW_WEIGHT = 1.0
# Scale of the day-one probabilities next to unit-length TF-IDF rows: the SVM can lean on them
# when reviews are few, and reviews override them.
PRIOR_SCALE = 0.3
# The log-count ratios scale the features up (|r| up to ~5), so the same C regularizes less than on
# plain TF-IDF. Measured on tests/fixtures/eval with NBSVM (ours minus baseline, helpdesk / shop):
# C=1 queue +0.008 / +0.042, priority +0.034 / +0.075; C=0.5 queue +0.019 / +0.049, priority
# +0.034 / +0.078; C=0.25 queue +0.037 / +0.049, priority +0.029 / +0.078. 0.5: as good as 1 or
# better on every field of both sets (type equal), and the middle of the range tried.
REGULARIZATION_C = 0.5
# A review is left out of the final fit when, predicted by the models of the other folds, the best
# other value's SVM score beats its own label's by more than this (scores are margins, ~[-1.5, 1.5]).
# Measured on tests/fixtures/eval/{helpdesk,shop}.csv: 0.4 dropped ~9-13% of the reviews (the sets
# carry 12% wrong labels); 0 (drop every disagreement) hurt the rare queues, 0.6 kept most noise.
NOISE_MARGIN = 0.4
NOISE_FOLDS = 5
# SVM margins to probabilities: softmax at this temperature, then the isotonic calibration.
TEMPERATURE = 0.3
MIN_CALIBRATION_REVIEWS = 30  # fewer held-out points make an isotonic map a staircase of noise
MAX_FOLDS = 5
MAX_CONFIDENCE = 0.99
RELIABILITY_BUCKETS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
# The LOW level per field: calibrated confidence below which held-out accuracy falls under this.
LOW_ACCURACY = 0.7
BAND_WIDTH = 0.1
MIN_BAND = 10  # a band with fewer held-out tickets says nothing about where accuracy falls

PriorFn = Callable[[list[str]], Mapping[str, np.ndarray]]


@dataclass(frozen=True)
class Sample:
    """A labeled ticket: its text and the human-confirmed value of each field that has one."""

    text: str
    labels: Mapping[str, str]


@dataclass
class FieldClassifier:
    values: tuple[str, ...]
    classifier: NBLinear
    calibrator: IsotonicRegression | None = None
    n_reviewed: int = 0

    def probabilities(self, features: sparse.csr_matrix) -> np.ndarray:
        """(n, len(values)) probabilities in taxonomy order."""
        # decision_function's input checks cost ~1 ms per call, more than the arithmetic.
        decision = _decision(self.classifier, features)
        shifted = np.exp((decision - decision.max(axis=1, keepdims=True)) / TEMPERATURE)
        raw = shifted / shifted.sum(axis=1, keepdims=True)
        out = np.zeros((features.shape[0], len(self.values)))
        for column, value in enumerate(self.classifier.classes_):
            out[:, self.values.index(value)] = raw[:, column]
        return out

    def calibrate(self, top: np.ndarray) -> np.ndarray:
        if self.calibrator is None:
            return np.minimum(top, MAX_CONFIDENCE)
        # Floor at chance: an isotonic step fitted on few wrong held-out points can say ~0, and
        # on tickets unlike the reviews the best of k values was still right about half the time.
        return np.clip(self.calibrator.predict(top), 1.0 / len(self.values), MAX_CONFIDENCE)


@dataclass
class TrainedModel:
    version: str
    taxonomy_key: str
    vectorizer: FeatureUnion
    fields: dict[str, FieldClassifier]
    reliability: dict[str, list[dict]] = field(default_factory=dict)
    heldout: dict[str, dict] = field(default_factory=dict)  # per field: n, accuracy, macro_f1, ece
    # per field: the calibrated confidence below which held-out accuracy fell under LOW_ACCURACY
    low_below: dict[str, float] = field(default_factory=dict)

    def matches(self, taxonomy: Taxonomy, name: str) -> bool:
        """False when the taxonomy's values changed since training: that field falls back to day one."""
        return name in self.fields and self.fields[name].values == taxonomy.values(name)

    def predict(
        self, texts: list[str], prior: Mapping[str, np.ndarray], *, fields: Sequence[str] | None = None
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per field: (probabilities (n, k), calibrated confidence of the best value (n,))."""
        tfidf = union_transform(self.vectorizer, texts)
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name in self.fields if fields is None else fields:
            model = self.fields[name]
            probabilities = model.probabilities(_features(tfidf, prior[name]))
            out[name] = (probabilities, model.calibrate(probabilities.max(axis=1)))
        return out


def vectorizer_new() -> FeatureUnion:
    return FeatureUnion(
        [
            (
                "words",
                TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, strip_accents="unicode", min_df=1),
            ),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, strip_accents="unicode"
                ),
            ),
        ]
    )


def _features(tfidf: sparse.csr_matrix, prior: np.ndarray) -> sparse.csr_matrix:
    # Each half of the union is L2-normalized: scale the rows to unit length overall.
    return sparse.hstack([tfidf / np.sqrt(2.0), sparse.csr_matrix(PRIOR_SCALE * prior)], format="csr")


def seed_samples(entries: Sequence[TaxonomyEntry]) -> list[tuple[str, str]]:
    """(text, value) pairs from the taxonomy: the description and every example phrase."""
    pairs: list[tuple[str, str]] = []
    for entry in entries:
        phrases = [p for p in (entry.description, *entry.examples) if p.strip()]
        if not phrases:  # a bare entry: its name is all there is
            phrases = [f"{entry.label} {entry.value.replace('_', ' ')}"]
        pairs.extend((phrase, entry.value) for phrase in phrases)
    return pairs


def _entries(taxonomy: Taxonomy, name: str) -> tuple[TaxonomyEntry, ...]:
    return taxonomy.entries(name)


# Log-count-ratio smoothing: each n-gram's count among a value's tickets (and among the rest) starts at 1.
NB_ALPHA = 1.0


@dataclass
class NBLinear:
    """One linear scorer per value (one-vs-rest), each fitted on the features reweighted by that
    value's log-count ratio (NBSVM, Wang & Manning 2012); the ratio is folded into `coef_`, so
    scoring is one sparse product as for any linear model."""

    classes_: np.ndarray
    coef_: np.ndarray
    intercept_: np.ndarray


def _log_count_ratios(present: sparse.csr_matrix, which: np.ndarray, k: int) -> np.ndarray:
    """(k, n_features): log of how much likelier each n-gram is among value c's tickets than among
    the others', from presence counts."""
    rows = sparse.csr_matrix((np.ones(len(which)), (which, np.arange(len(which)))), shape=(k, len(which)))
    mine = NB_ALPHA + np.asarray((rows @ present).todense())
    rest = NB_ALPHA + np.asarray(present.sum(axis=0)).ravel()[None, :] - (mine - NB_ALPHA)
    return np.log(mine / mine.sum(axis=1, keepdims=True)) - np.log(rest / rest.sum(axis=1, keepdims=True))


def _fit(features: sparse.csr_matrix, labels: list[str], weights: np.ndarray, n_prior: int) -> NBLinear:
    """NBSVM: per value, a class-balanced linear SVM on the TF-IDF scaled by that value's log-count
    ratios (the last `n_prior` columns, the day-one probabilities, are left as they are).

    Measured on tests/fixtures/eval (trained on 70%, scored on 30%) against the same SVM on plain
    TF-IDF: priority +0.010 / +0.016 and queue -0.001 / +0.011 macro-F1 (helpdesk / shop), the type
    unchanged (both sets' type labels are at their noise ceiling). The ratio tells the SVM which
    n-grams are typical of a value before it sees any margin: rare values and short cue phrases
    ("no rush", "sofort") count for more than their TF-IDF weight in a long ticket."""
    # A linear SVM, not a logistic regression: liblinear's dual solver fits 1,700 reviews x ~100K
    # n-grams in well under a second where saga took 10-25 s; probabilities come from the calibration.
    y = np.asarray(labels)
    classes, which = np.unique(y, return_inverse=True)
    present = features.copy()
    present.data[:] = 1.0
    ratios = _log_count_ratios(present, which, len(classes))
    ratios[:, features.shape[1] - n_prior :] = 1.0
    binary = len(classes) == 2  # one scorer: the second value against the first
    coef = np.zeros((1 if binary else len(classes), features.shape[1]))
    intercept = np.zeros(coef.shape[0])
    for c in range(coef.shape[0]):
        value = 1 if binary else c
        scaled = features.copy()
        scaled.data *= ratios[value, scaled.indices]
        svc = LinearSVC(C=REGULARIZATION_C, class_weight="balanced", random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            svc.fit(scaled, which == value, sample_weight=weights)
        coef[c] = svc.coef_[0] * ratios[value]
        intercept[c] = svc.intercept_[0]
    return NBLinear(classes_=classes, coef_=coef, intercept_=intercept)


def _decision(classifier: NBLinear, features: sparse.csr_matrix) -> np.ndarray:
    """(n, classes) SVM scores; a two-value field's single score as (-s/2, s/2)."""
    decision = np.asarray(features @ classifier.coef_.T) + classifier.intercept_
    if decision.shape[1] == 1:
        return np.column_stack([-decision[:, 0] / 2.0, decision[:, 0] / 2.0])
    return decision


def _fold_of(n: int, folds: int, rng: np.random.Generator) -> np.ndarray:
    fold_of = np.empty(n, dtype=int)
    fold_of[rng.permutation(n)] = np.arange(n) % folds
    return fold_of


def _suspect_labels(
    fit: Callable[[np.ndarray], NBLinear],
    review_x: sparse.csr_matrix,
    review_y: list[str],
    rng: np.random.Generator,
) -> np.ndarray:
    """Boolean mask of reviews whose label a K-fold prediction contradicts by more than NOISE_MARGIN."""
    n = len(review_y)
    suspect = np.zeros(n, dtype=bool)
    folds = min(NOISE_FOLDS, n // 10)
    if folds < 2:
        return suspect
    fold_of = _fold_of(n, folds, rng)
    for fold in range(folds):
        test = np.flatnonzero(fold_of == fold)
        classifier = fit(np.flatnonzero(fold_of != fold))
        classes = list(classifier.classes_)
        decision = _decision(classifier, review_x[test])
        for j, i in enumerate(test):
            if review_y[i] not in classes:
                continue  # a value the other folds never saw: no evidence against it
            own = classes.index(review_y[i])
            others = np.delete(decision[j], own)
            suspect[i] = bool(others.size) and float(others.max() - decision[j, own]) > NOISE_MARGIN
    return suspect


def reliability_table(confidence: ArrayLike, correct: ArrayLike) -> list[dict]:
    """Confidence bucket vs observed accuracy; empty buckets are listed with n=0."""
    conf = np.asarray(confidence, dtype=float)
    hits = np.asarray(correct, dtype=bool)
    rows = []
    edges = RELIABILITY_BUCKETS
    for index, (low, high) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        last = index == len(edges) - 2
        mask = (conf >= low) & ((conf <= high) if last else (conf < high))
        n = int(mask.sum())
        rows.append(
            {
                "bucket": f"{low:.1f}-{high:.1f}",
                "n": n,
                "mean_confidence": round(float(conf[mask].mean()), 3) if n else None,
                "accuracy": round(float(hits[mask].mean()), 3) if n else None,
            }
        )
    return rows


def expected_calibration_error(confidence: ArrayLike, correct: ArrayLike) -> float:
    """Mean |observed accuracy - mean confidence| over 0.1-wide bands, weighted by their share."""
    conf = np.asarray(confidence, dtype=float)
    hits = np.asarray(correct, dtype=bool)
    if not conf.size:
        return 0.0
    band = np.minimum((conf / BAND_WIDTH).astype(int), int(round(1 / BAND_WIDTH)) - 1)
    error = 0.0
    for b in np.unique(band):
        mask = band == b
        error += mask.mean() * abs(hits[mask].mean() - conf[mask].mean())
    return round(float(error), 4)


def low_level(confidence: ArrayLike, correct: ArrayLike) -> float:
    """The confidence below which held-out accuracy falls under LOW_ACCURACY: the upper edge of the
    highest 0.1-wide band (with MIN_BAND tickets) whose accuracy is under it; 0 when none is."""
    conf = np.asarray(confidence, dtype=float)
    hits = np.asarray(correct, dtype=bool)
    level = 0.0
    for index in range(int(round(1 / BAND_WIDTH))):
        low, high = index * BAND_WIDTH, (index + 1) * BAND_WIDTH
        mask = (conf >= low) & (conf < high)
        if mask.sum() >= MIN_BAND and hits[mask].mean() < LOW_ACCURACY:
            level = round(high, 2)
    return level


def field_scores(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    labels = sorted(set(truth) | set(predicted))
    return {
        "accuracy": round(float(np.mean([t == p for t, p in zip(truth, predicted, strict=True)])), 4)
        if truth
        else 0.0,
        "macro_f1": round(
            float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)), 4
        )
        if truth
        else 0.0,
    }


def train(
    *,
    samples: Sequence[Sample],
    taxonomy: Taxonomy,
    prior: PriorFn,
    version: str,
    taxonomy_key: str,
    seed: int = 0,
) -> TrainedModel:
    """Fit one classifier per field on the taxonomy phrases plus the reviewed samples."""
    seeds = {name: seed_samples(_entries(taxonomy, name)) for name in FIELDS}
    seed_texts = [text for name in FIELDS for text, _ in seeds[name]]
    review_texts = [s.text for s in samples]
    vectorizer = vectorizer_new()
    # IDF and vocabulary see the held-out folds' texts too (never their labels): an unsupervised
    # statistic, and refitting it per fold would triple the training time.
    vectorizer.fit(seed_texts + review_texts)
    tfidf_reviews = vectorizer.transform(review_texts) if review_texts else None
    prior_reviews = prior(review_texts) if review_texts else {}
    rng = np.random.default_rng(seed)

    fields: dict[str, FieldClassifier] = {}
    reliability: dict[str, list[dict]] = {}
    heldout: dict[str, dict] = {}
    low_below: dict[str, float] = {}
    for name in FIELDS:
        values = taxonomy.values(name)
        seed_text = [t for t, _ in seeds[name]]
        seed_x = _features(vectorizer.transform(seed_text), np.asarray(prior(seed_text)[name]))
        seed_y = [v for _, v in seeds[name]]
        rows = [i for i, s in enumerate(samples) if s.labels.get(name) in values]
        review_y = [samples[i].labels[name] for i in rows]
        review_x = (
            _features(tfidf_reviews[rows], np.asarray(prior_reviews[name])[rows])
            if rows and tfidf_reviews is not None
            else None
        )

        def fit(
            keep: np.ndarray,
            seed_x: sparse.csr_matrix = seed_x,
            seed_y: list[str] = seed_y,
            review_x: sparse.csr_matrix | None = review_x,
            review_y: list[str] = review_y,
            n_prior: int = len(values),
        ) -> NBLinear:
            parts = [seed_x] + ([review_x[keep]] if review_x is not None and len(keep) else [])
            labels = seed_y + [review_y[i] for i in keep]
            weights = np.concatenate([np.ones(len(seed_y)), np.full(len(keep), REVIEW_WEIGHT)])
            return _fit(sparse.vstack(parts, format="csr"), labels, weights, n_prior)

        suspect = (
            _suspect_labels(fit, review_x, review_y, rng)
            if review_x is not None
            else np.zeros(len(rows), dtype=bool)
        )
        trusted = np.flatnonzero(~suspect)
        model = FieldClassifier(values=values, classifier=fit(trusted), n_reviewed=len(rows))
        folds = min(MAX_FOLDS, len(rows) // 10)
        if review_x is not None and folds >= 2:
            fold_of = _fold_of(len(rows), folds, rng)
            top = np.zeros(len(rows))
            hits = np.zeros(len(rows), dtype=bool)
            predicted: list[str] = [""] * len(rows)
            for fold in range(folds):
                # trained as the final model is (suspect labels left out), scored on every review
                # of the fold, suspect or not: the app's confidence must hold on what reviewers say
                test = np.flatnonzero(fold_of == fold)
                held = FieldClassifier(
                    values=values, classifier=fit(np.flatnonzero((fold_of != fold) & ~suspect))
                )
                probabilities = held.probabilities(review_x[test])
                for j, i in enumerate(test):
                    predicted[i] = values[int(probabilities[j].argmax())]
                    top[i] = probabilities[j].max()
                    hits[i] = predicted[i] == review_y[i]
            heldout[name] = {
                "n": len(rows),
                "left_out_as_noise": int(suspect.sum()),
                **field_scores(review_y, predicted),
            }
            if len(rows) >= MIN_CALIBRATION_REVIEWS:
                model.calibrator = _isotonic(top, hits)
                shown = np.zeros(len(rows))
                for fold in range(folds):
                    test, rest = fold_of == fold, fold_of != fold
                    shown[test] = np.clip(
                        _isotonic(top[rest], hits[rest]).predict(top[test]), 1.0 / len(values), MAX_CONFIDENCE
                    )
            else:
                shown = np.minimum(top, MAX_CONFIDENCE)
            reliability[name] = reliability_table(shown, hits)
            heldout[name]["ece"] = expected_calibration_error(shown, hits)
            low_below[name] = low_level(shown, hits)
        fields[name] = model
    return TrainedModel(
        version=version,
        taxonomy_key=taxonomy_key,
        vectorizer=vectorizer,
        fields=fields,
        reliability=reliability,
        heldout=heldout,
        low_below=low_below,
    )


def _isotonic(top: np.ndarray, hits: np.ndarray) -> IsotonicRegression:
    calibrator = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
    calibrator.fit(top, hits.astype(float))
    return calibrator
