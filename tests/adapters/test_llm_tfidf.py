from __future__ import annotations

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
