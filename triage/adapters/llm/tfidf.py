"""TF-IDF transform of a fitted TfidfVectorizer, from its public attributes only.

Why: sklearn's `transform` validates its input on every call (array checks, dataframe sniffing),
~0.5 ms per call; a one-ticket triage makes about a dozen such calls, which was half its time.
For one ticket this computes the same matrix (tests/adapters/llm/test_tfidf.py compares the two) from
`build_analyzer()`, `vocabulary_`, `idf_`, `sublinear_tf` and `norm`.
"""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Callable
from itertools import repeat

import numpy as np
from scipy import sparse
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

# The analysis settings that decide a text's n-grams: vectorizers fitted on different texts (the
# day-one model's five fields, the trained model) but with equal settings give the same n-grams.
_ANALYSIS = (
    "analyzer",
    "ngram_range",
    "lowercase",
    "strip_accents",
    "preprocessor",
    "tokenizer",
    "token_pattern",
    "stop_words",
)
_TOKENS_KEPT = 32
_tokens_cache: dict[tuple, tuple[list[str], np.ndarray]] = {}
# Nothing here holds a fitted vectorizer (its vocabulary is most of a model's memory): a long-lived
# worker retrains and serves new versions, and a cache keyed by the vectorizer itself kept every
# version it had served alive. The settings are remembered per vectorizer only while it lives
# (weak keys; the value is a tuple of strings), and the analyzers are built from an unfitted copy
# of the settings, one per distinct settings (a handful: the day-one and trained models share them).
_settings_of: weakref.WeakKeyDictionary[TfidfVectorizer, tuple] = weakref.WeakKeyDictionary()
_ANALYZERS_KEPT = 16
_analyzers: dict[tuple, Callable[[str], list[str]]] = {}


def _settings(vectorizer: TfidfVectorizer) -> tuple:
    settings = _settings_of.get(vectorizer)
    if settings is None:
        settings = tuple(repr(getattr(vectorizer, name, None)) for name in _ANALYSIS)
        _settings_of[vectorizer] = settings
    return settings


def _analyzer(vectorizer: TfidfVectorizer) -> Callable[[str], list[str]]:
    settings = _settings(vectorizer)
    analyzer = _analyzers.get(settings)
    if analyzer is None:
        if len(_analyzers) >= _ANALYZERS_KEPT:  # a callable's repr names its address: bound them
            _analyzers.clear()
        analyzer = _analyzers[settings] = clone(vectorizer).build_analyzer()
    return analyzer


def _token_counts(vectorizer: TfidfVectorizer, text: str) -> tuple[list[str], np.ndarray]:
    """The distinct n-grams of `text` under `vectorizer`'s settings and their counts, shared by
    every vectorizer with the same settings: one ticket is read by seven vectorizers in two
    settings, and reading it (the character n-grams above all) was most of a one-ticket triage."""
    key = (_settings(vectorizer), text)
    counts = _tokens_cache.get(key)
    if counts is None:
        counted = Counter(_analyzer(vectorizer)(text))
        counts = (list(counted), np.fromiter(counted.values(), dtype=np.float64, count=len(counted)))
        if len(_tokens_cache) >= _TOKENS_KEPT:
            _tokens_cache.clear()  # a few tickets' worth: the cache serves one triage, not a backlog
        _tokens_cache[key] = counts
    return counts


def _weights(vectorizer: TfidfVectorizer, columns: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The TF-IDF weights (before the norm) of n-grams in `columns` counted `counts` times."""
    value = counts.astype(np.float64, copy=False)
    if vectorizer.sublinear_tf:
        value = np.log(value) + 1.0
    if vectorizer.use_idf:
        value = value * vectorizer.idf_[columns]
    return value


def _rows(vectorizer: TfidfVectorizer, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per text: (sorted column indexes, TF-IDF values), computed on numpy arrays row by row (a
    sparse matrix per step cost more in scipy's checks than the arithmetic for one ticket)."""
    vocabulary = vectorizer.vocabulary_
    rows = []
    for text in texts:
        tokens, counts = _token_counts(vectorizer, text)
        # the vocabulary look-ups in one C loop (-1: not in the vocabulary)
        looked_up = np.fromiter(map(vocabulary.get, tokens, repeat(-1)), dtype=np.int64, count=len(tokens))
        known = looked_up >= 0
        index = looked_up[known].astype(np.int32)
        order = np.argsort(index, kind="stable")
        index = index[order]
        value = _weights(vectorizer, index, counts[known][order])
        norm = float(np.sqrt(value @ value))
        if norm > 0.0:
            value = value / norm
        rows.append((index, value))
    return rows


def _matrix(rows: list[tuple[np.ndarray, np.ndarray]], width: int) -> sparse.csr_matrix:
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(index) for index, _ in rows])
    indices = np.concatenate([index for index, _ in rows]) if rows else np.zeros(0, dtype=np.int32)
    data = np.concatenate([value for _, value in rows]) if rows else np.zeros(0)
    return sparse.csr_matrix((data, indices, indptr), shape=(len(rows), width))


def tfidf_transform(vectorizer: TfidfVectorizer, texts: list[str]) -> sparse.csr_matrix:
    if vectorizer.norm != "l2":
        return vectorizer.transform(texts)  # not used here; keep sklearn's behaviour exactly
    return _matrix(_rows(vectorizer, texts), len(vectorizer.vocabulary_))


# Up to this many texts, the offline model works row by row on numpy arrays instead of through
# sklearn's and scipy's batch paths, whose per-call checks and copies cost more than the arithmetic
# for one ticket (here: one text 3.8 ms vs 10.6 ms through sklearn; in batches of 64 sklearn's
# vectorized counting wins, 1.0 vs 1.3 ms per text). learned.py and local.py use it for their
# products too.
SMALL_BATCH = 8


def union_transform(union: FeatureUnion, texts: list[str]) -> sparse.csr_matrix:
    """FeatureUnion of TfidfVectorizers (no transformer weights): the parts side by side."""
    parts = [part for _, part in union.transformer_list]
    if len(texts) > SMALL_BATCH:
        return sparse.hstack([part.transform(texts) for part in parts], format="csr")
    if any(part.norm != "l2" for part in parts):
        return sparse.hstack([tfidf_transform(part, texts) for part in parts], format="csr")
    # the parts side by side, built as one matrix: each row's columns shifted by the widths before
    per_part = [_rows(part, texts) for part in parts]
    offsets = np.cumsum([0] + [len(part.vocabulary_) for part in parts])
    rows = [
        (
            np.concatenate([rows[i][0] + offsets[p] for p, rows in enumerate(per_part)]).astype(np.int32),
            np.concatenate([rows[i][1] for rows in per_part]),
        )
        for i in range(len(texts))
    ]
    return _matrix(rows, int(offsets[-1]))


def unions_transform(unions: list[FeatureUnion], texts: list[str]) -> list[sparse.csr_matrix]:
    """`[union_transform(u, texts) for u in unions]`, each text read once per distinct analysis
    settings. The day-one model reads every text with five fields' vectorizers in two settings;
    for a batch, sklearn's transform of each read and counted every text again (training's
    day-one pass over the reviews was ~10% of training)."""
    parts = [part for union in unions for _, part in union.transformer_list]
    if len(texts) <= SMALL_BATCH or any(part.norm != "l2" for part in parts):
        return [union_transform(union, texts) for union in unions]
    by_settings: dict[tuple, list[TfidfVectorizer]] = {}
    for part in parts:
        by_settings.setdefault(_settings(part), []).append(part)
    matrices: dict[int, sparse.csr_matrix] = {}
    for group in by_settings.values():
        # the n-grams any vectorizer of the group knows, numbered once; each vectorizer's column of each
        known: dict[str, int] = {}
        for part in group:
            for token in part.vocabulary_:
                known.setdefault(token, len(known))
        columns = []
        for part in group:
            column = np.full(len(known), -1, dtype=np.int64)
            for token, index in part.vocabulary_.items():
                column[known[token]] = index
            columns.append(column)
        analyzer = _analyzer(group[0])
        ids = []
        for text in texts:
            found = np.fromiter(map(known.get, analyzer(text), repeat(-1)), dtype=np.int64)
            ids.append(found[found >= 0])
        row_of = np.repeat(np.arange(len(texts), dtype=np.int64), [len(i) for i in ids])
        pairs, counts = np.unique(
            row_of * len(known) + np.concatenate(ids or [np.zeros(0, np.int64)]), return_counts=True
        )
        rows, token_ids = pairs // max(1, len(known)), pairs % max(1, len(known))
        for part, column in zip(group, columns, strict=True):
            matrices[id(part)] = _counts_matrix(part, rows, column[token_ids], counts, len(texts))
    return [
        sparse.hstack([matrices[id(part)] for _, part in union.transformer_list], format="csr")
        for union in unions
    ]


def _counts_matrix(
    vectorizer: TfidfVectorizer, rows: np.ndarray, columns: np.ndarray, counts: np.ndarray, n: int
) -> sparse.csr_matrix:
    """TF-IDF rows (l2-normalized) from (row, column, count) triples; column -1: not in the vocabulary."""
    keep = columns >= 0
    rows, columns, counts = rows[keep], columns[keep], counts[keep]
    order = np.lexsort((columns, rows))
    rows, columns = rows[order], columns[order]
    value = _weights(vectorizer, columns, counts[order])
    norms = np.sqrt(np.bincount(rows, weights=value * value, minlength=n))
    value = value / np.where(norms > 0.0, norms, 1.0)[rows]
    indptr = np.zeros(n + 1, dtype=np.int64)
    indptr[1:] = np.cumsum(np.bincount(rows, minlength=n))
    return sparse.csr_matrix(
        (value, columns.astype(np.int32), indptr), shape=(n, len(vectorizer.vocabulary_))
    )
