"""The learned half of the offline model: classifiers trained on the taxonomy and on reviewed tickets.

Pure: samples in, a `TrainedModel` value out; no ORM, no settings, no files (the service stores it).

Per field, one class-balanced linear SVM (C=REGULARIZATION_C) per value (one-vs-rest) reads two
things about a ticket:
- word 1-2-gram and character 2-5-gram TF-IDF of its text (subject, body, OCR text; side remarks
  left out, `classifier_texts`), each n-gram scaled by how much likelier it is among that value's
  tickets than among the others' (NBSVM), and
- the day-one model's probabilities for that field (the taxonomy similarity plus its documented
  cues), so what the taxonomy says keeps counting while reviewed tickets teach the rest.
Its training set is the taxonomy itself (each description and example phrase is one labeled
sample, so every value exists from the start) plus the reviewed tickets. Two choices are made per
field from out-of-fold predictions on the reviews alone (never from any test set; see `train`):
whether to leave out the reviews whose label looks wrong (models that never saw a review score its
own label clearly below another value's, margin NOISE_MARGIN; reviewers make mistakes, but where
the labels are hard to predict the filter drops rare values' right labels too), and per-value
offsets added to the SVM scores to maximise macro-F1 (class-balanced weights alone still leave
rare values under-chosen).

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
from triage.adapters.llm.normalize import without_side_remarks
from triage.adapters.llm.tfidf import SMALL_BATCH, union_transform
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
# SVM margins to probabilities: softmax at this temperature, then the isotonic calibration.
TEMPERATURE = 0.3
MIN_CALIBRATION_REVIEWS = 30  # fewer held-out points make an isotonic map a staircase of noise
# Folds of every out-of-fold pass. 4, not 5: the suspect-label candidate needs one model per pair of
# folds (6 instead of 10), and a field's training fits 4 + 6 + 4 + 1 models instead of 5 + 10 + 5 + 1.
MAX_FOLDS = 4
# Per-value decision offsets (choose_offsets): tried on this grid of SVM-score shifts, smallest
# shift first, at most this many passes over the values; a shift is kept only when it raises the
# out-of-fold macro-F1 by more than OFFSET_MIN_TICKETS / n (n reviews): with 240 reviews that were
# 94% right out of fold, shifts that fixed one or two of them moved the boundaries far (-0.7) and
# cost 0.11 queue accuracy on tickets unlike the reviews (tests/fixtures/eval/tickets.csv).
OFFSET_GRID = tuple(sorted((round(x, 2) for x in np.arange(-1.0, 1.01, 0.1)), key=abs))
OFFSET_ROUNDS = 2
OFFSET_MIN_TICKETS = 3.0
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
        return self.probabilities_from(_decision(self.classifier, features))

    def probabilities_of(self, tfidf: sparse.csr_matrix, prior: np.ndarray) -> np.ndarray:
        """`probabilities(_features(tfidf, prior))` without building the features: the TF-IDF and
        the prior columns are scored apart (for one ticket, stacking them and scipy's product,
        which copies the transposed coefficients on every call, cost more than the arithmetic)."""
        return self.probabilities_from(_decision_of(self.classifier, tfidf, prior))

    def probabilities_from(self, decision: np.ndarray) -> np.ndarray:
        """Softmax of SVM scores (classes in sorted order), as (n, len(values)) in taxonomy order."""
        shifted = np.exp((decision - decision.max(axis=1, keepdims=True)) / TEMPERATURE)
        raw = shifted / shifted.sum(axis=1, keepdims=True)
        out = np.zeros((decision.shape[0], len(self.values)))
        for column, value in enumerate(self.classifier.classes_):
            out[:, self.values.index(value)] = raw[:, column]
        return out

    def calibrate(self, top: np.ndarray) -> np.ndarray:
        if self.calibrator is None:
            return np.minimum(top, MAX_CONFIDENCE)
        # Floor at chance: an isotonic step fitted on few wrong held-out points can say ~0, and
        # on tickets unlike the reviews the best of k values was still right about half the time.
        return np.clip(_isotonic_predict(self.calibrator, top), 1.0 / len(self.values), MAX_CONFIDENCE)


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
    # The classifiers read the text without its side remarks (see `classifier_texts`). False for
    # versions stored before they did: those keep reading the whole text they were fitted on.
    drops_side_remarks: bool = False

    def matches(self, taxonomy: Taxonomy, name: str) -> bool:
        """False when the taxonomy's values changed since training: that field falls back to day one."""
        return name in self.fields and self.fields[name].values == taxonomy.values(name)

    def predict(
        self, texts: list[str], prior: Mapping[str, np.ndarray], *, fields: Sequence[str] | None = None
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per field: (probabilities (n, k), calibrated confidence of the best value (n,))."""
        tfidf = union_transform(
            self.vectorizer, classifier_texts(texts) if self.drops_side_remarks else texts
        )
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name in self.fields if fields is None else fields:
            model = self.fields[name]
            probabilities = model.probabilities_of(tfidf, prior[name])
            out[name] = (probabilities, model.calibrate(probabilities.max(axis=1)))
        return out


def classifier_texts(texts: Sequence[str]) -> list[str]:
    """What the classifiers' n-grams are read from: each text without its side-remark sentences
    ("By the way, the printer also jams.", "Übrigens: ..."; normalize.without_side_remarks). A side
    remark names another topic on purpose, and its words pulled the queue towards that topic's
    queue. The day-one probabilities (the prior features) still read the whole text."""
    return [without_side_remarks(text) for text in texts]


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


def _log_count_ratios(
    present: sparse.csr_matrix, which: np.ndarray, k: int, multiplicity: np.ndarray | None = None
) -> np.ndarray:
    """(k, n_features): log of how much likelier each n-gram is among value c's tickets than among
    the others', from presence counts. `multiplicity`: how many equal columns each column stands
    for (merge_duplicate_columns); the shares are of the total over all of them, as unmerged."""
    rows = sparse.csr_matrix((np.ones(len(which)), (which, np.arange(len(which)))), shape=(k, len(which)))
    mine = NB_ALPHA + np.asarray((rows @ present).todense())
    rest = NB_ALPHA + np.asarray(present.sum(axis=0)).ravel()[None, :] - (mine - NB_ALPHA)
    times = np.ones(present.shape[1]) if multiplicity is None else multiplicity
    return np.log(mine / (mine @ times)[:, None]) - np.log(rest / (rest @ times)[:, None])


def _fit(
    features: sparse.csr_matrix,
    labels: list[str],
    weights: np.ndarray,
    n_prior: int,
    multiplicity: np.ndarray | None = None,
) -> NBLinear:
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
    # presence and each value's scaled copy share the features' indices: only their values are new
    present = sparse.csr_matrix(
        (np.ones_like(features.data), features.indices, features.indptr), shape=features.shape
    )
    ratios = _log_count_ratios(present, which, len(classes), multiplicity)
    del present
    ratios[:, features.shape[1] - n_prior :] = 1.0
    binary = len(classes) == 2  # one scorer: the second value against the first
    coef = np.zeros((1 if binary else len(classes), features.shape[1]))
    intercept = np.zeros(coef.shape[0])
    for c in range(coef.shape[0]):
        value = 1 if binary else c
        scaled = sparse.csr_matrix(
            (features.data * ratios[value, features.indices], features.indices, features.indptr),
            shape=features.shape,
        )
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


def _times(matrix: sparse.csr_matrix, weights: np.ndarray) -> np.ndarray:
    """(n, k) = matrix (n, d) @ weights.T, for weights (k, d). Up to SMALL_BATCH rows, by gathering
    the weights of each row's columns: scipy's product first copies the transposed weights (the
    independent set's queue: 5 MB) on every one-ticket call."""
    if matrix.shape[0] > SMALL_BATCH:
        return np.asarray(matrix @ weights.T)
    out = np.zeros((matrix.shape[0], weights.shape[0]))
    indptr, indices, data = matrix.indptr, matrix.indices, matrix.data
    for row in range(matrix.shape[0]):
        start, end = indptr[row], indptr[row + 1]
        if end > start:
            out[row] = weights[:, indices[start:end]] @ data[start:end]
    return out


def _decision_of(classifier: NBLinear, tfidf: sparse.csr_matrix, prior: np.ndarray) -> np.ndarray:
    """`_decision(classifier, _features(tfidf, prior))`, with the TF-IDF and prior columns apart."""
    width = tfidf.shape[1]
    coef = classifier.coef_
    decision = (
        _times(tfidf, coef[:, :width]) / np.sqrt(2.0)
        + (PRIOR_SCALE * np.asarray(prior)) @ coef[:, width:].T
        + classifier.intercept_
    )
    if decision.shape[1] == 1:
        return np.column_stack([-decision[:, 0] / 2.0, decision[:, 0] / 2.0])
    return decision


def _isotonic_predict(calibrator: IsotonicRegression, top: np.ndarray) -> np.ndarray:
    """`calibrator.predict(top)` (linear between its thresholds, clipped at both ends: how
    `_isotonic` fits it) as one np.interp: its predict's input checks and scipy interpolator cost
    more than the interpolation for one ticket."""
    return np.interp(top, calibrator.X_thresholds_, calibrator.y_thresholds_)


def _fold_of(n: int, folds: int, rng: np.random.Generator) -> np.ndarray:
    fold_of = np.empty(n, dtype=int)
    fold_of[rng.permutation(n)] = np.arange(n) % folds
    return fold_of


def _contradicted(decision: np.ndarray, which: np.ndarray) -> np.ndarray:
    """Boolean mask of reviews whose out-of-fold score for their own label (column `which`) is
    below the best other value's by more than NOISE_MARGIN."""
    rows = np.arange(len(which))
    own = decision[rows, which]
    others = decision.copy()
    others[rows, which] = -np.inf
    return (others.max(axis=1) - own) > NOISE_MARGIN


def _intercept_shift(offsets: np.ndarray) -> np.ndarray:
    """Per-value decision offsets as a shift of NBLinear's intercepts: a two-value field has one
    scorer s shown as (-s/2, s/2), so (b0, b1) becomes s + b1 - b0 (same argmax, same softmax)."""
    return np.asarray([offsets[1] - offsets[0]]) if len(offsets) == 2 else offsets


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


def choose_offsets(decision: np.ndarray, which: np.ndarray) -> np.ndarray:
    """Per-value additive offsets to `decision` (n, k) that maximise the macro-F1 of its argmax
    against the true value indexes `which`: coordinate ascent over OFFSET_GRID, OFFSET_ROUNDS passes,
    a shift kept only when it raises the score by more than OFFSET_MIN_TICKETS / n (a value's
    offset must not chase one or two tickets). Meant for out-of-fold decisions only: on the rows a
    model was fitted on, its margins are too clean to say where the boundaries should move."""
    k = decision.shape[1]
    offsets = np.zeros(k)
    if k < 2 or not len(which):
        return offsets

    def score(candidate: np.ndarray) -> float:
        return _macro_f1(which, (decision + candidate).argmax(axis=1), k)

    best = score(offsets)
    min_gain = OFFSET_MIN_TICKETS / len(which)
    for _ in range(OFFSET_ROUNDS):
        improved = False
        for c in range(k):
            keep = offsets[c]
            for step in OFFSET_GRID:
                offsets[c] = step
                value = score(offsets)
                if value > best + min_gain:
                    best, keep, improved = value, step, True
            offsets[c] = keep
        if not improved:
            break
    return offsets


def _macro_f1(which: np.ndarray, predicted: np.ndarray, k: int) -> float:
    """Macro-F1 over value indexes 0..k-1 seen in `which` or `predicted` (sklearn's `f1_score`
    with zero_division=0 and the union of labels, without its ~1 ms of input checks per call)."""
    true_positive = np.bincount(which[which == predicted], minlength=k)
    truth = np.bincount(which, minlength=k)
    guessed = np.bincount(predicted, minlength=k)
    present = (truth + guessed) > 0
    f1 = 2 * true_positive[present] / (truth[present] + guessed[present])
    return float(f1.mean()) if f1.size else 0.0


def out_of_fold_macro_f1(decision: np.ndarray, which: np.ndarray, offsets: np.ndarray) -> float:
    return _macro_f1(which, (decision + offsets).argmax(axis=1), decision.shape[1])


def _out_of_fold(
    fit: Callable[[np.ndarray], NBLinear],
    review_x: sparse.csr_matrix,
    fold_of: np.ndarray,
    mask: np.ndarray,
    k: int,
) -> tuple[np.ndarray, list[float]]:
    """(n, k) decisions (classes in sorted order), each review's from a model fitted on the other
    folds' reviews that are in `mask`, and the coefficient norm of each fold's model (the models
    themselves are dropped: 4 dense (k, n-grams) matrices per candidate raised the peak memory)."""
    decision = np.zeros((review_x.shape[0], k))
    norms = []
    for fold in range(int(fold_of.max()) + 1):
        test = np.flatnonzero(fold_of == fold)
        model = fit(np.flatnonzero((fold_of != fold) & mask))
        norms.append(float(np.linalg.norm(model.coef_)))
        decision[test] = _decision(model, review_x[test])
    return decision, norms


def _filtered_out_of_fold(
    fit: Callable[[np.ndarray], NBLinear],
    review_x: sparse.csr_matrix,
    which: np.ndarray,
    fold_of: np.ndarray,
    k: int,
) -> tuple[np.ndarray, list[float]]:
    """(n, k) out-of-fold decisions of models fitted with suspect labels left out (and their
    coefficient norms), where no label of the scored fold took part in deciding which are suspect.

    Fold f's model leaves out the reviews of each other fold g that a model fitted on the folds
    other than f and g contradicts (one model per pair of folds). Deciding suspects with fold f's
    labels in the fit would leak them: a neighbour of a fold-f ticket whose label disagrees with
    it would be dropped, and the filtered model would look right about fold f for that reason."""
    folds = int(fold_of.max()) + 1
    suspect_without = np.zeros((folds, len(which)), dtype=bool)  # [f, j]: j suspect for fold f's model
    for f in range(folds):
        for g in range(f + 1, folds):
            pair = np.flatnonzero((fold_of == f) | (fold_of == g))
            model = fit(np.flatnonzero((fold_of != f) & (fold_of != g)))
            contradicted = _contradicted(_decision(model, review_x[pair]), which[pair])
            in_g = fold_of[pair] == g
            suspect_without[f, pair[in_g]] = contradicted[in_g]
            suspect_without[g, pair[~in_g]] = contradicted[~in_g]
    decision = np.zeros((len(which), k))
    norms = []
    for f in range(folds):
        test = np.flatnonzero(fold_of == f)
        model = fit(np.flatnonzero((fold_of != f) & ~suspect_without[f]))
        norms.append(float(np.linalg.norm(model.coef_)))
        decision[test] = _decision(model, review_x[test])
    return decision, norms


def _shrink_to(classifier: NBLinear, fold_norms: Sequence[float]) -> None:
    """Scale the final model's scores (coefficients and intercepts, one factor: the argmax is
    unchanged) to the size of the fold models' whose out-of-fold scores the calibration is fitted on.

    The final model is fitted on every review, 4/3 as many as a fold model, and its margins are
    wider for about the same accuracy: on the queue of tests/fixtures/eval/shop_hard.csv the top
    softmax averaged 0.57 on held-out tickets against 0.52 out of fold, and the calibrated
    confidence ran 0.06 above the accuracy (ECE 0.062). The factor is the mean fold model's
    coefficient norm over the final model's, from training rows only."""
    norm = float(np.linalg.norm(classifier.coef_))
    if norm == 0.0:
        return
    ratio = float(np.mean(fold_norms)) / norm
    classifier.coef_ = classifier.coef_ * ratio
    classifier.intercept_ = classifier.intercept_ * ratio


def train(
    *,
    samples: Sequence[Sample],
    taxonomy: Taxonomy,
    prior: PriorFn,
    version: str,
    taxonomy_key: str,
    seed: int = 0,
) -> TrainedModel:
    """Fit one classifier per field on the taxonomy phrases plus the reviewed samples.

    With enough reviews (10 per fold), every choice is made from out-of-fold decisions on the
    reviews alone, one K-fold split per field:
    1. each review is scored by a model fitted on the other folds (all their labels);
    2. a review whose label those scores contradict by more than NOISE_MARGIN is a suspect, and each
       review is scored again by a model fitted on the other folds' non-suspect reviews;
    3. for each of the two (all labels / suspects left out), per-value decision offsets are chosen
       to maximise the out-of-fold macro-F1 (choose_offsets); the one with the higher macro-F1 wins
       (a set whose labels are hard to predict loses its rare values' correct labels to the filter);
    4. the final model is fitted on the winner's reviews with its offsets, and its confidence is
       calibrated on the winner's out-of-fold probabilities (offsets applied); its scores are scaled
       to the size of the winner's fold models (_shrink_to), whose scores the calibration saw.
    """
    seeds = {name: seed_samples(_entries(taxonomy, name)) for name in FIELDS}
    seed_texts = [text for name in FIELDS for text, _ in seeds[name]]
    review_texts = [s.text for s in samples]
    vectorizer = vectorizer_new()
    # IDF and vocabulary see the held-out folds' texts too (never their labels): an unsupervised
    # statistic, and refitting it per fold would triple the training time.
    # One pass over the texts (fit, then slice the rows: transforming them again cost ~10% of training).
    tfidf_all = sparse.csr_matrix(vectorizer.fit_transform(seed_texts + classifier_texts(review_texts)))
    # The SVMs are fitted on the distinct columns only (see merge_duplicate_columns): same models.
    tfidf_all, column_group, column_scale = merge_duplicate_columns(tfidf_all)
    # how many of the vectorizer's columns each fitted TF-IDF column stands for
    merged_multiplicity = np.bincount(column_group, minlength=tfidf_all.shape[1]).astype(np.float64)
    tfidf_seeds = tfidf_all[: len(seed_texts)]
    tfidf_reviews = tfidf_all[len(seed_texts) :] if review_texts else None
    del tfidf_all  # the slices are copies: keep one, not two (peak memory)
    prior_reviews = prior(review_texts) if review_texts else {}
    # one day-one pass over every field's seed phrases (it scores all fields at once)
    prior_seeds = prior(seed_texts)
    seed_start = dict(zip(FIELDS, np.cumsum([0] + [len(seeds[n]) for n in FIELDS])[:-1], strict=True))
    rng = np.random.default_rng(seed)

    fields: dict[str, FieldClassifier] = {}
    reliability: dict[str, list[dict]] = {}
    heldout: dict[str, dict] = {}
    low_below: dict[str, float] = {}
    for name in FIELDS:
        values = taxonomy.values(name)
        seed_text = [t for t, _ in seeds[name]]
        first = int(seed_start[name])
        seed_prior = np.asarray(prior_seeds[name])[first : first + len(seed_text)]
        seed_x = _features(tfidf_seeds[first : first + len(seed_text)], seed_prior)
        seed_y = [v for _, v in seeds[name]]
        rows = [i for i, s in enumerate(samples) if s.labels.get(name) in values]
        review_y = [samples[i].labels[name] for i in rows]
        review_x = (
            _features(tfidf_reviews[rows], np.asarray(prior_reviews[name])[rows])
            if rows and tfidf_reviews is not None
            else None
        )

        field_multiplicity = np.concatenate([merged_multiplicity, np.ones(len(values))])

        def fit(
            keep: np.ndarray,
            seed_x: sparse.csr_matrix = seed_x,
            seed_y: list[str] = seed_y,
            review_x: sparse.csr_matrix | None = review_x,
            review_y: list[str] = review_y,
            n_prior: int = len(values),
            multiplicity: np.ndarray = field_multiplicity,
        ) -> NBLinear:
            parts = [seed_x] + ([review_x[keep]] if review_x is not None and len(keep) else [])
            features = sparse.vstack(parts, format="csr")
            del parts  # the reviews' row copy: not alive while the SVMs are fitted (peak memory)
            labels = seed_y + [review_y[i] for i in keep]
            weights = np.concatenate([np.ones(len(seed_y)), np.full(len(keep), REVIEW_WEIGHT)])
            return _fit(features, labels, weights, n_prior, multiplicity)

        folds = min(MAX_FOLDS, len(rows) // 10)
        if review_x is None or folds < 2:
            classifier = _expanded(fit(np.arange(len(rows))), column_group, column_scale)
            fields[name] = FieldClassifier(values=values, classifier=classifier, n_reviewed=len(rows))
            continue
        # the seed phrases give every taxonomy value a sample, so every fit has the same classes
        classes = sorted(set(values))
        which = np.asarray([classes.index(v) for v in review_y])
        fold_of = _fold_of(len(rows), folds, rng)
        everyone = np.ones(len(rows), dtype=bool)
        decision_all, models_all = _out_of_fold(fit, review_x, fold_of, everyone, len(classes))
        suspect = _contradicted(decision_all, which)
        candidates = {"all": (everyone, decision_all, models_all)}
        if suspect.any():
            candidates["filtered"] = (
                ~suspect,
                *_filtered_out_of_fold(fit, review_x, which, fold_of, len(classes)),
            )
        scored = {}
        for key, (_, decision, _) in candidates.items():
            offsets = choose_offsets(decision, which)
            scored[key] = (out_of_fold_macro_f1(decision, which, offsets), offsets)
        choice = max(scored, key=lambda key: (scored[key][0], key == "all"))
        keep, decision, fold_norms = candidates[choice]
        offsets = scored[choice][1]
        classifier = fit(np.flatnonzero(keep))
        classifier.intercept_ = classifier.intercept_ + _intercept_shift(offsets)
        _shrink_to(classifier, fold_norms)
        classifier = _expanded(classifier, column_group, column_scale)
        model = FieldClassifier(values=values, classifier=classifier, n_reviewed=len(rows))
        probabilities = model.probabilities_from(decision + offsets)
        predicted_index = probabilities.argmax(axis=1)
        predicted = [values[int(i)] for i in predicted_index]
        top = probabilities.max(axis=1)
        hits = np.asarray([p == t for p, t in zip(predicted, review_y, strict=True)])
        heldout[name] = {
            "n": len(rows),
            "left_out_as_noise": int((~keep).sum()),
            "training_rows": choice,
            "macro_f1_without_offsets": round(
                out_of_fold_macro_f1(decision, which, np.zeros(len(classes))), 4
            ),
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
        drops_side_remarks=True,
    )


def merge_duplicate_columns(tfidf: sparse.csr_matrix) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """(the distinct columns of `tfidf`, each scaled by the square root of how many columns equal
    it; per original column, its distinct column; per original column, 1 / that square root).

    A rare word's character n-grams all occur in the same tickets with the same weight: a quarter
    of the TF-IDF entries of the labelled sets sit in columns equal to another one. An L2-regularized
    linear model spreads its weight evenly over equal columns, so k equal columns x give the same
    scores as one column sqrt(k) x with k times fewer entries: the rows' dot products, all the SVM's
    dual problem reads, are unchanged, and so is the coefficients' norm (`_shrink_to`). The NBSVM
    ratios are counted per column and their shares taken over the columns each one stands for
    (`_log_count_ratios`' multiplicity), as unmerged. The SVMs fit the merged matrix (liblinear's
    time grows with the entries: -25% training on the labelled sets, predictions unchanged), and
    `_expanded` writes each merged coefficient back to its columns divided by sqrt(k): serving
    reads the vectorizer's own columns."""
    # Equal columns have equal projections on any row weights (the same products summed in the same
    # order); distinct ones agree on three random projections and their entry count with probability
    # ~0. Hashing each column's bytes instead held a Python key per column (+50 MB on a labelled set).
    projections = np.random.default_rng(0).random((3, tfidf.shape[0])) @ tfidf
    counts = np.bincount(tfidf.indices, minlength=tfidf.shape[1])
    keys = np.column_stack([projections.T, counts])
    _, first_seen, group_of = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    # number the groups in order of their first column, as the columns come
    order = np.empty(len(first_seen), dtype=np.int64)
    order[np.argsort(first_seen, kind="stable")] = np.arange(len(first_seen))
    group_of = order[group_of.ravel()]
    sizes = np.bincount(group_of, minlength=len(first_seen))
    first = np.sort(first_seen)  # each group's first column, in group order
    merged = sparse.csr_matrix(tfidf[:, first] * sparse.diags(np.sqrt(sizes.astype(np.float64))))
    return merged, group_of, 1.0 / np.sqrt(sizes[group_of].astype(np.float64))


def _expanded(classifier: NBLinear, column_group: np.ndarray, column_scale: np.ndarray) -> NBLinear:
    """A classifier fitted on merged columns (merge_duplicate_columns) as one on the original
    columns; the columns after the merged ones (the day-one probabilities) are kept as they are."""
    width = int(column_group.max()) + 1 if len(column_group) else 0
    coef = classifier.coef_
    expanded = np.hstack([coef[:, column_group] * column_scale, coef[:, width:]])
    return NBLinear(classes_=classifier.classes_, coef_=expanded, intercept_=classifier.intercept_)


def _isotonic(top: np.ndarray, hits: np.ndarray) -> IsotonicRegression:
    calibrator = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
    calibrator.fit(top, hits.astype(float))
    return calibrator
