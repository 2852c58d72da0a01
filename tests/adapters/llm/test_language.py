"""Language detection (triage/adapters/llm/language.py): every supported language in both modes,
and a confidence that says how often the detector is right."""

from __future__ import annotations

import numpy as np
import pytest

from tests.factories import eval_rows
from triage.adapters.llm.language import calibrated_confidence, detect_language
from triage.adapters.llm.learned import expected_calibration_error
from triage.adapters.llm.text_budget import language_sample

CLEAR_SPANISH = (
    "¿Cómo exporto mis datos a CSV?\n"
    "Hola, quisiera saber cómo puedo exportar la lista de clientes a un archivo CSV. Gracias."
)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The export to CSV stopped working after the update.", "en"),
        ("Der Export nach CSV funktioniert seit dem Update nicht mehr.", "de"),
        ("La exportación a CSV dejó de funcionar después de la actualización.", "es"),
        ("L'export en CSV ne fonctionne plus depuis la mise à jour.", "fr"),
        ("A exportação para CSV parou de funcionar depois da atualização.", "pt"),
    ],
)
@pytest.mark.parametrize("accuracy", ["high", "low"])
def test_every_supported_language_is_detected_in_both_modes(text, language, accuracy):
    detected, confidence = detect_language(text, accuracy=accuracy)
    assert detected == language and confidence >= 0.5


@pytest.mark.parametrize(
    ("text", "language"),
    [("não consigo entrar", "pt"), ("no puedo entrar", "es")],
)
def test_the_trigram_mode_reads_short_texts_with_their_function_words(text, language):
    # trigrams alone read "não consigo entrar" as Spanish
    assert detect_language(text, accuracy="low")[0] == language


def test_a_stack_trace_does_not_make_a_german_ticket_english():
    text = (
        "Beim Speichern kommt ein Fehler.\n"
        "java.lang.NullPointerException at com.example.billing.InvoiceService.save(InvoiceService.java:42)"
    )
    assert detect_language(text)[0] == "de"


def test_a_clear_spanish_ticket_is_reported_as_sure():
    # lingua's own share is 0.571, which showed the demo's Spanish ticket LOW for its language
    assert detect_language(CLEAR_SPANISH, calibrated=False) == ("es", 0.571)
    language, confidence = detect_language(CLEAR_SPANISH)
    assert language == "es" and confidence >= 0.9


def test_the_calibration_never_goes_down_and_stays_under_the_ceiling():
    reported = [calibrated_confidence(raw) for raw in np.linspace(0, 1, 1001)]
    assert all(a <= b for a, b in zip(reported, reported[1:], strict=False))
    assert min(reported) >= 0 and max(reported) <= 0.99


@pytest.mark.parametrize("calibrated", [True, False])
def test_a_few_letters_stay_capped_and_no_letters_stay_english_at_0_2(calibrated):
    # "Hola gracias" is Spanish to lingua, with 11 letters: too few to be sure of
    assert detect_language("Hola gracias", calibrated=calibrated)[1] <= 0.4
    assert detect_language("12345 !!!", calibrated=calibrated) == ("en", 0.2)


def test_the_confidence_is_the_share_of_labelled_tickets_detected_right():
    # two sets with under-confident raw shares (0.5-0.7 on ~50 of their first 600 tickets)
    rows = [*eval_rows("shop_hard")[:600], *eval_rows("tickets")[:600]]
    texts = [language_sample(f"{r.subject}\n{r.body}") for r in rows]
    raw = np.array([detect_language(t, calibrated=False)[1] for t in texts])
    guesses = [detect_language(t) for t in texts]
    reported = np.array([confidence for _, confidence in guesses])
    right = np.array([code == r.labels["language"] for (code, _), r in zip(guesses, rows, strict=True)])
    assert expected_calibration_error(reported, right) < 0.05
    assert expected_calibration_error(reported, right) < expected_calibration_error(raw, right)
    band = (raw >= 0.5) & (raw < 0.7)
    assert band.sum() >= 30
    # the raw share under-claims there; the reported confidence is near what happened
    assert right[band].mean() > raw[band].mean() + 0.2
    assert abs(right[band].mean() - reported[band].mean()) < 0.1
