from __future__ import annotations

import json

import numpy as np
import pytest

from triage.adapters.llm.base import ImagePart, Taxonomy, TaxonomyEntry, TicketInput, TriageClient
from triage.adapters.llm.local import MODEL_NAME, LocalTriageModel, detect_language, join_summary
from triage.adapters.llm.schema import TriageResult, parse_triage_reply
from triage.taxonomy_defaults import DEFAULT_TAXONOMY_ROWS, taxonomy_from_rows

STACK_TRACE_BODY = (
    "When I click Save on the invoice editor the app crashes.\n"
    "Traceback (most recent call last):\n"
    '  File "/srv/app/editor.py", line 88, in save\n'
    "    total = int(form['total'])\n"
    "ValueError: invalid literal for int() with base 10: '12,50'\n"
    "Thanks, Anna"
)

# (subject, body, expected category) - clear tickets in the five supported languages.
CLEAR_TICKETS = [
    (
        "Invoice charged twice",
        "Hello, I was charged twice for my November invoice. Please refund it.",
        "billing",
    ),
    (
        "Cannot log in",
        "I reset my password but the login still fails and my account is locked.",
        "account_access",
    ),
    ("App crashes on save", STACK_TRACE_BODY, "bug"),
    (
        "Dashboard very slow",
        "The dashboard takes 40 seconds to load since yesterday; requests time out.",
        "performance",
    ),
    ("Dark mode please", "It would be great if you could add a dark mode to the editor.", "feature_request"),
    ("How do I export to CSV?", "Where can I find the export setting for my contacts?", "how_to"),
    (
        "Records missing after import",
        "After the CSV import half of our customer records disappeared.",
        "data_issue",
    ),
    (
        "Webhook not delivered",
        "Our Slack integration stopped working; the webhook returns 401 from your API.",
        "integration",
    ),
    ("Rechnung doppelt abgebucht", "Die Rechnung wurde zweimal von der Kreditkarte abgebucht.", "billing"),
    (
        "No puedo iniciar sesión",
        "Olvidé mi contraseña y el enlace para restablecerla no funciona.",
        "account_access",
    ),
    (
        "L'application plante",
        "L'application plante avec une erreur 500 quand je clique sur enregistrer.",
        "bug",
    ),
    (
        "Sistema muito lento",
        "O sistema está muito lento hoje, as páginas demoram para carregar.",
        "performance",
    ),
]


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return taxonomy_from_rows(DEFAULT_TAXONOMY_ROWS)


@pytest.fixture(scope="module")
def model() -> LocalTriageModel:
    return LocalTriageModel()


def _triage(model: LocalTriageModel, taxonomy: Taxonomy, subject: str, body: str, **kw: object):
    return model.triage(TicketInput(ticket_id=1, subject=subject, body=body, **kw), taxonomy)  # type: ignore[arg-type]


@pytest.mark.parametrize(("subject", "body", "expected"), CLEAR_TICKETS, ids=[t[0] for t in CLEAR_TICKETS])
def test_clear_tickets_get_the_right_category_with_good_confidence(model, taxonomy, subject, body, expected):
    outcome = _triage(model, taxonomy, subject, body)
    assert outcome.ok and outcome.result is not None
    assert outcome.result.category.value == expected, outcome.extra["scores"]["category"]
    assert outcome.result.category.confidence >= 0.6


def test_different_tickets_get_different_categories(model, taxonomy):
    categories = {_triage(model, taxonomy, s, b).result.category.value for s, b, _ in CLEAR_TICKETS}
    assert len(categories) == 8  # every default category is reachable


@pytest.mark.parametrize(
    ("subject", "body", "queue"),
    [
        ("Invoice charged twice", "I was charged twice for my invoice, please refund.", "billing_team"),
        ("Cannot log in", "Password reset link does not work.", "tier1"),
        ("No puedo iniciar sesión", "Olvidé mi contraseña.", "tier1"),
        ("App crashes on save", STACK_TRACE_BODY, "engineering"),
        ("Dashboard very slow", "Every page takes a minute to load.", "tier2"),
    ],
)
def test_the_queue_follows_the_ticket(model, taxonomy, subject, body, queue):
    assert _triage(model, taxonomy, subject, body).result.queue.value == queue


@pytest.mark.parametrize(
    ("subject", "body", "priority"),
    [
        (
            "URGENT: everything is down",
            "Production is down for everyone and all payments fail. ASAP!",
            "urgent",
        ),
        ("Datenverlust", "Dringend: in der Produktion sind alle Daten weg, alles ausgefallen.", "urgent"),
        ("Quick question", "How do I change the language of the interface? No rush.", "low"),
        ("Feature request", "Feature request: it would be nice to have a dark mode.", "low"),
        ("Charged twice and blocked", "I was charged twice and I am blocked, I cannot work.", "high"),
        (
            "Export button",
            "The export button does not work for one of my reports, I used a workaround.",
            "normal",
        ),
    ],
)
def test_priority_uses_documented_cues(model, taxonomy, subject, body, priority):
    result = _triage(model, taxonomy, subject, body).result
    assert result.priority.value == priority, result


@pytest.mark.parametrize(
    ("subject", "body", "sentiment"),
    [
        (
            "Still broken",
            "This is unacceptable, I am very frustrated. It is still broken again!!",
            "negative",
        ),
        ("Thank you", "Thanks a lot, I love the product and your support is great.", "positive"),
        ("Export format", "I would like to know which export formats are available.", "neutral"),
        # a closing thanks is courtesy: these are a request and a problem report, not praise
        (
            "Rechnung doppelt abgebucht",
            "Hallo, uns wurde die Rechnung zweimal abgebucht. Bitte erstatten Sie den Betrag. Vielen Dank.",
            "neutral",
        ),
        ("Invoice question", "Hi, how do I download last month's invoice? Thanks in advance!", "neutral"),
        ("Sync", "Everything works perfectly now. Thank you!", "positive"),
        ("Sync", "It is still not resolved. Thanks.", "negative"),
    ],
)
def test_sentiment(model, taxonomy, subject, body, sentiment):
    assert _triage(model, taxonomy, subject, body).result.sentiment.value == sentiment


@pytest.mark.parametrize(
    ("subject", "body"),
    [("asdf qwerty", "lorem ipsum dolor sit amet"), ("", "xyzzy plugh"), ("hello", ""), ("", "")],
)
def test_text_with_no_overlap_gets_low_confidence(model, taxonomy, subject, body):
    result = _triage(model, taxonomy, subject, body).result
    for guess in (result.category, result.priority, result.queue, result.sentiment):
        assert guess.confidence <= 0.35


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("asdf qwerty", "lorem ipsum dolor sit amet"),
        ("Rechnung", "Bitte erstatten Sie den Betrag."),
        ("", ""),
    ],
)
def test_day_one_confidence_is_never_below_chance(model, taxonomy, subject, body):
    """Of k values the likeliest has at least 1/k; damping for weak evidence stops there."""
    result = _triage(model, taxonomy, subject, body).result
    for name in ("category", "priority", "queue", "sentiment"):
        chance = 1 / len(taxonomy.values(name))
        assert getattr(result, name).confidence >= round(chance, 3), (name, getattr(result, name))


@pytest.mark.parametrize(
    ("subject", "body"),
    [("Help", "It does not work."), ("Hi", "Please call me back."), ("Problem", "Something is not right.")],
)
def test_vague_tickets_are_less_confident_than_clear_ones(model, taxonomy, subject, body):
    vague = _triage(model, taxonomy, subject, body).result
    clear = _triage(model, taxonomy, *CLEAR_TICKETS[0][:2]).result
    assert vague.category.confidence <= 0.5 < clear.category.confidence


def test_the_summary_is_made_of_verbatim_sentences_from_the_ticket(model, taxonomy):
    for subject, body, _ in CLEAR_TICKETS:
        outcome = _triage(model, taxonomy, subject, body)
        sentences = outcome.extra["summary_sentences"]
        assert 1 <= len(sentences) <= 3
        assert outcome.result.summary == join_summary(sentences)
        for sentence in sentences:
            assert sentence in f"{subject}\n{body}", sentence


def test_the_summary_of_a_crash_quotes_the_exception_not_the_greeting(model, taxonomy):
    outcome = _triage(model, taxonomy, "App crashes on save", STACK_TRACE_BODY)
    summary = outcome.result.summary
    assert "ValueError: invalid literal for int()" in summary
    assert "the app crashes" in summary
    assert "Thanks, Anna" not in summary and 'File "/srv/app/editor.py"' not in summary


def test_an_empty_body_is_summarized_by_the_subject(model, taxonomy):
    assert _triage(model, taxonomy, "Login broken", "").result.summary == "Login broken"
    assert _triage(model, taxonomy, "", "").result.summary == "(empty ticket)"


def test_a_huge_pasted_line_is_cut_to_a_verbatim_prefix(model, taxonomy):
    body = "ERROR " + " ".join(f"frame{i}" for i in range(2000))
    outcome = _triage(model, taxonomy, "Log paste", body)
    for sentence in outcome.extra["summary_sentences"]:
        assert len(sentence) <= 400 and sentence in f"Log paste\n{body}"
    assert body[:100] in outcome.result.summary


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The app does not work when I try to save my file, and the export is broken too.", "en"),
        ("Ich kann mich nicht anmelden, das Passwort wird nicht akzeptiert und die Seite lädt nicht.", "de"),
        ("No puedo acceder a mi cuenta desde ayer y el enlace para cambiar la contraseña no funciona.", "es"),
        ("Je ne peux pas me connecter à mon compte depuis hier et le mot de passe ne fonctionne pas.", "fr"),
        ("Não consigo acessar minha conta desde ontem e o link para trocar a senha não funciona.", "pt"),
    ],
)
def test_language_detection_for_the_supported_languages(text, language):
    detected, confidence = detect_language(text)
    assert detected == language
    assert 0.5 <= confidence <= 0.99


@pytest.mark.parametrize("text", ["", "12345 !!!", "https://example.com/a/b"])
def test_language_detection_falls_back_to_english_with_low_confidence(text):
    assert detect_language(text) == ("en", 0.2)


@pytest.mark.parametrize("text", ["xyzzy", "Hola", "ok"])
def test_a_few_letters_are_never_a_confident_language(text):
    assert detect_language(text)[1] <= 0.4


def test_the_ticket_language_is_reported(model, taxonomy):
    result = _triage(model, taxonomy, *CLEAR_TICKETS[8][:2]).result  # German billing ticket
    assert result.language.value == "de"


def test_the_outcome_is_a_valid_result_inside_the_taxonomy(model, taxonomy):
    outcome = _triage(model, taxonomy, *CLEAR_TICKETS[1][:2])
    assert outcome.provider == "local" and outcome.model == MODEL_NAME == "local-tfidf-2"
    assert (outcome.prompt_tokens, outcome.completion_tokens, outcome.cached_tokens) == (0, 0, 0)
    assert outcome.error_kind == "" and outcome.latency_ms >= 0
    result = outcome.result
    assert TriageResult.model_validate(result.model_dump()) == result
    # The same validation a model reply goes through accepts it unchanged.
    assert parse_triage_reply(json.dumps(result.model_dump()), taxonomy=taxonomy) == result


def test_images_are_not_read_yet_but_counted(model, taxonomy):
    images = (ImagePart(data=b"\x89PNG", mime="image/png", label="screenshot 'a.png'"),) * 2
    outcome = _triage(model, taxonomy, "Cannot log in", "Password rejected.", images=images)
    assert outcome.ok and outcome.extra["images_seen"] == 2


def test_notes_count_as_ticket_text(model, taxonomy):
    notes = ("attachment 'invoice.pdf' mentions a refund for a double charge on the credit card",)
    with_notes = _triage(model, taxonomy, "See attachment", "", notes=notes).result
    assert with_notes.category.value == "billing"


def test_fitted_vectorizers_are_reused_per_taxonomy(taxonomy):
    model = LocalTriageModel()
    first = model._models(taxonomy)
    assert model._models(taxonomy_from_rows(DEFAULT_TAXONOMY_ROWS)) is first  # equal taxonomy, same key
    edited = taxonomy_from_rows(
        [{**DEFAULT_TAXONOMY_ROWS[0], "description": "edited"}, *DEFAULT_TAXONOMY_ROWS[1:]]
    )
    assert model._models(edited) is not first


def test_it_works_on_any_taxonomy_including_bare_entries():
    def entries(*values: str) -> tuple[TaxonomyEntry, ...]:
        return tuple(TaxonomyEntry(value=v, label=v.title()) for v in values)

    taxonomy = Taxonomy(
        categories=(
            TaxonomyEntry(
                "shipping", "Shipping", "Parcels, delivery, tracking numbers", ("where is my parcel",)
            ),
            TaxonomyEntry("returns", "Returns", "Sending an item back, return labels", ("I want to return",)),
        ),
        priorities=entries("p3", "p2", "p1"),
        queues=entries("front_desk", "warehouse"),
        sentiments=entries("unhappy", "calm"),
    )
    client: TriageClient = LocalTriageModel()
    outcome = client.triage(
        TicketInput(ticket_id=9, subject="Where is my parcel?", body="The tracking number shows nothing."),
        taxonomy,
    )
    assert outcome.ok and outcome.result is not None
    assert outcome.result.category.value == "shipping"
    assert outcome.result.priority.value in {"p3", "p2", "p1"}
    assert outcome.result.queue.value in {"front_desk", "warehouse"}


# Tickets whose screenshot (OCR text, with the overlays a recorder burns in) shows a known error.
SCREENSHOT_TICKETS = [
    (
        "Sync stopped",
        "Hi, the sync stopped this morning. Thanks",
        "00:00:02.500\nSync error E_TIMEOUT at 00:00:02.500\nREC ●",
        "Sync error E_TIMEOUT",
    ),
    (
        "Cannot log in",
        "Hello,\nI cannot log in since yesterday.\nI use Firefox 128 on Windows 11.",
        "Sign in\nInvalid two-factor code (E1042)\nCancel",
        "Invalid two-factor code (E1042)",
    ),
    (
        "Export broken",
        "The export button does nothing. Please help.",
        "12:04\nError: disk quota exceeded (Q-17)\nFile  Edit  View",
        "Error: disk quota exceeded (Q-17)",
    ),
    (
        "Upload fails",
        "When I upload a photo the page says something went wrong and the upload fails.",
        "2026-12-01 10:22:01 ERROR upload rejected: file too large (413)",
        "ERROR upload rejected: file too large (413)",
    ),
    (
        "Checkout",
        "Checkout does not work for me. I tried twice.",
        "Payment declined: card_declined\nframe 12/300",
        "Payment declined: card_declined",
    ),
]


@pytest.mark.parametrize(
    ("subject", "body", "ocr", "error"), SCREENSHOT_TICKETS, ids=[t[0] for t in SCREENSHOT_TICKETS]
)
def test_the_summary_names_the_screenshots_error_without_overlays_or_the_subject(
    model, taxonomy, subject, body, ocr, error
):
    outcome = _triage(model, taxonomy, subject, body, ocr_text=ocr)
    sentences = outcome.extra["summary_sentences"]
    assert 1 <= len(sentences) <= 3
    assert error in outcome.result.summary
    assert subject not in sentences
    assert not any(":0" in s or "REC" in s or "frame 12" in s for s in sentences), sentences


def test_one_tickets_similarity_equals_the_batch_product(taxonomy):
    """scores_for gathers one ticket's n-grams instead of scipy's product: same scores."""
    field = LocalTriageModel()._models(taxonomy).fields["queue"]
    texts = ["I was charged twice for my invoice", "", "zzzz qqqq", "Login fails with 2FA"] * 3
    batch = field.scores_for(field.transform(texts))  # 12 texts: scipy's product
    for i, text in enumerate(texts[:4]):
        assert np.allclose(field.scores_for(field.transform([text]))[0], batch[i], atol=1e-12)
    assert np.allclose(field.scores_for(field.transform(texts[:3])), batch[:3], atol=1e-12)
