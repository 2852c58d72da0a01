"""Language detection (triage/adapters/llm/language.py): every supported language in both modes."""

from __future__ import annotations

import pytest

from triage.adapters.llm.language import detect_language


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
