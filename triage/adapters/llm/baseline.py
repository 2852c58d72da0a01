"""The textbook baseline every evaluation is compared with: word + character TF-IDF and a linear SVM.

Per field: word 1-2-gram and character 2-5-gram (within word boundaries) TF-IDF, sublinear tf, of
the same text the local model reads, and `LinearSVC(C=0.5, class_weight="balanced")`, trained on
the same reviewed rows. Pure: texts and labels in, predictions out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion
from sklearn.svm import LinearSVC

NAME = "baseline-tfidf-linearsvc"


def baseline_vectorizer() -> FeatureUnion:
    return FeatureUnion(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
        ]
    )


def baseline_predict(
    *,
    train_texts: Sequence[str],
    train_labels: Sequence[Mapping[str, str]],
    test_texts: Sequence[str],
    fields: Sequence[str],
) -> dict[str, list[str]]:
    """Per field with at least two labelled values among the training rows: one prediction per test text."""
    vectorizer = baseline_vectorizer()
    train_x = vectorizer.fit_transform(list(train_texts))
    test_x = vectorizer.transform(list(test_texts))
    out: dict[str, list[str]] = {}
    for name in fields:
        rows = [i for i, labels in enumerate(train_labels) if labels.get(name)]
        y = [train_labels[i][name] for i in rows]
        if len(set(y)) < 2:
            continue
        classifier = LinearSVC(C=0.5, class_weight="balanced", random_state=0).fit(train_x[rows], y)
        out[name] = [str(v) for v in classifier.predict(test_x)]
    return out
