from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

from triage.adapters.llm.learned import vectorizer_new
from triage.adapters.llm.tfidf import union_transform

CORPUS = [
    "The app crashes when I click save",
    "Die Rechnung wurde zweimal abgebucht, bitte erstatten",
    "No puedo iniciar sesión: contraseña incorrecta",
    "L'export CSV ne fonctionne plus depuis la mise à jour",
    "Não consigo acessar minha conta",
]


@pytest.mark.parametrize(
    "texts",
    [
        ["Save crashes the app again and again", "Rechnung doppelt", "", "zzzz qqqq"],
        ["ÉLÈVE àccents Über straße", "1234 !!! ???", "save save save save"],
    ],
)
def test_the_fast_transform_equals_sklearns(texts):
    union = vectorizer_new().fit(CORPUS)
    expected = union.transform(texts).toarray()
    assert np.allclose(union_transform(union, texts).toarray(), expected, atol=1e-12)
    assert np.allclose(union_transform(union, texts * 5).toarray(), np.vstack([expected] * 5), atol=1e-12)


def test_a_retrained_vectorizer_is_not_kept_alive_by_the_fast_transforms_caches():
    """A long-lived worker serves version after version: once a version's vectorizer is dropped,
    the transform's caches must not keep it (and its vocabulary) in memory."""
    texts = ["Save crashes the app again", "Rechnung doppelt abgebucht"]
    dropped = []
    for round_ in range(3):  # three retrains, each on slightly different texts
        union = vectorizer_new().fit([*CORPUS, f"retrain number {round_}"])
        expected = union.transform(texts[:1]).toarray()
        assert np.allclose(union_transform(union, texts[:1]).toarray(), expected, atol=1e-12)
        dropped.extend(weakref.ref(part) for _, part in union.transformer_list)
        del union
    gc.collect()
    assert dropped and all(ref() is None for ref in dropped)
    # and the next version, with the same settings, still reads texts as sklearn does
    union = vectorizer_new().fit(CORPUS)
    assert np.allclose(union_transform(union, texts).toarray(), union.transform(texts).toarray(), atol=1e-12)


@pytest.mark.parametrize("copies", [1, 5])  # a few texts (the one-ticket path) and a batch
def test_several_unions_read_the_same_texts_as_sklearn_each(copies):
    from triage.adapters.llm.tfidf import unions_transform

    unions = [vectorizer_new().fit(CORPUS), vectorizer_new().fit([*CORPUS[:2], "zzzz export csv"])]
    texts = ["Save crashes the app again and again", "Rechnung doppelt", "", "zzzz qqqq", "ÉLÈVE Über"]
    texts = texts * copies
    for union, matrix in zip(unions, unions_transform(unions, texts), strict=True):
        assert matrix.shape == (len(texts), sum(len(p.vocabulary_) for _, p in union.transformer_list))
        assert np.allclose(matrix.toarray(), union.transform(texts).toarray(), atol=1e-12)
