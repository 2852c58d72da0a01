"""What the offline classifiers read of a body (triage/adapters/llm/normalize.py)."""

from __future__ import annotations

import pytest

from triage.adapters.llm import learned, local, normalize
from triage.adapters.llm.base import TicketInput
from triage.adapters.llm.local import LocalTriageModel, local_model_train, ticket_text
from triage.adapters.llm.normalize import classifier_body, without_courtesy
from triage.taxonomy_defaults import DEFAULT_TAXONOMY_ROWS, taxonomy_from_rows

ASK = "The export to CSV fails with error 500 since this morning.\n\nKind regards,\nAnna"


@pytest.mark.parametrize(
    "quote",
    [
        "On 23.01.2026 Ledgerly Support wrote:\n> Your payroll question went to our specialists.",
        "On Mon, 3 Jun 2024 at 10:15, Support <help@example.com> wrote:\n> About your invoice\n>\n> Thanks",
        "Am 21.05.2025 schrieb Ledgerly Support:\n> Danke für Ihre Geduld.",
        "Am 03.06.24 um 10:15 schrieb Max Mustermann <max@example.de>:\n> Rechnung anbei",
        "Le lun. 3 juin 2024 à 10:15, Support <s@example.fr> a écrit :\n> Bonjour",
        "> a quoted line without its attribution",
        "-----Original Message-----\nFrom: Support\nSent: Monday\nSubject: Your invoice\n\nAbout your invoice",
        "-----Ursprüngliche Nachricht-----\nVon: Support\nBetreff: Rechnung\n\nIhre Rechnung",
        "_" * 32 + "\nFrom: Support\nAbout your invoice",
    ],
)
def test_a_quoted_reply_is_removed(quote):
    assert classifier_body(f"{ASK}\n\n{quote}") == ASK


@pytest.mark.parametrize(
    "signature",
    [
        "-- \nAnna Schmidt\nOffice Manager, Oakridge Ltd\n+44 20 7946 0000",
        "--\nAnna Schmidt | Tel. 0170 1234567",
    ],
)
def test_a_signature_block_is_removed(signature):
    assert classifier_body(f"{ASK}\n{signature}") == ASK


@pytest.mark.parametrize(
    "footer", ["Sent from my iPhone", "Von meinem iPhone gesendet", "Get Outlook for iOS"]
)
def test_a_phone_footer_is_removed(footer):
    assert classifier_body(f"{ASK}\n{footer}") == ASK


@pytest.mark.parametrize(
    "text",
    [
        ASK,
        "  Login fails.\r\nWith 2FA on.  \n",  # whitespace and line endings kept to the character
        "On the invoice page, the total is wrong.",  # starts like an attribution, ends like no one
        "Am Montag schrieb ich Ihnen wegen der Rechnung. Sie ist immer noch falsch.",
        "a > b is what the filter says, and it is wrong",
        "Steps:\n--\nclick export\nclick save\nline\nline\nline\nline\nline",  # a long block is text
        "Thanks,\nAnna",  # closing formulas stay (see the module's docstring)
        "",
    ],
)
def test_text_without_quotes_or_signature_is_unchanged(text):
    assert classifier_body(text) == text


def test_a_body_that_is_only_a_quote_is_kept():
    text = "On Mon, 3 Jun 2024, Support wrote:\n> only a quote"
    assert classifier_body(text) == text


def test_the_classifiers_read_the_body_without_the_quote():
    ticket = TicketInput(ticket_id=1, subject="Export", body=f"{ASK}\n\nOn Monday Support wrote:\n> payroll")
    assert "payroll" not in ticket_text(ticket)
    assert ASK in ticket_text(ticket)


def test_training_and_prediction_read_the_same_text(monkeypatch):
    taxonomy = taxonomy_from_rows(DEFAULT_TAXONOMY_ROWS)
    body = f"{ASK}\n-- \nAnna | Oakridge Ltd\nSent from my iPhone\n\nOn 3 June, Support wrote:\n> payroll"
    ticket = TicketInput(ticket_id=1, subject="Export fails", body=body)
    seen: dict[str, list[str]] = {}
    real_train = learned.train

    def recording_train(**kwargs):
        seen["training"] = [s.text for s in kwargs["samples"]]
        return real_train(**kwargs)

    monkeypatch.setattr(learned, "train", recording_train)
    labels = {"category": taxonomy.values("category")[0]}
    trained = local_model_train(labeled=[(ticket, labels)], taxonomy=taxonomy, version="t")
    real_predict = trained.predict

    def recording_predict(texts, prior, **kwargs):
        seen["prediction"] = list(texts)
        return real_predict(texts, prior, **kwargs)

    monkeypatch.setattr(trained, "predict", recording_predict)
    LocalTriageModel(trained=trained).triage(ticket, taxonomy)
    assert seen["training"] == seen["prediction"] == [ticket_text(ticket)]
    assert "payroll" not in seen["training"][0] and "iPhone" not in seen["training"][0]
    assert local.classifier_body is classifier_body  # the one normalization, not a copy


@pytest.mark.parametrize(
    ("text", "left"),
    [
        (
            "Uns wurde die Rechnung zweimal abgebucht. Bitte erstatten Sie den Betrag. Vielen Dank.",
            "Uns wurde die Rechnung zweimal abgebucht.\nBitte erstatten Sie den Betrag.",
        ),
        ("The export is empty.\nThanks in advance,\nAnna\nERROR 42", "The export is empty.\nERROR 42"),
        ("The export is empty.\nBest regards,\nAnna Berg", "The export is empty."),
        ("Ça plante. Merci d'avance !", "Ça plante."),
        ("El informe está vacío. Muchas gracias por su ayuda.", "El informe está vacío."),
        ("Thanks. The export is empty.", "The export is empty."),
    ],
)
def test_courtesy_is_removed_for_the_sentiment(text, left):
    assert without_courtesy(text) == left


@pytest.mark.parametrize(
    "text",
    [
        "Thank you!",  # a thank-you note is all thanks: kept
        "Thanks, please fix it soon.",  # a thanks that says more
        "Muchas gracias por la ayuda tan rápida, todo funciona perfecto.",
        "The app crashes on save.\nUrgent Help",  # a capitalized last line after no closing
        "",
    ],
)
def test_text_that_is_not_only_courtesy_is_unchanged(text):
    assert without_courtesy(text) == text


def test_side_remarks_are_left_out_and_the_rest_is_kept() -> None:
    text = (
        "Hi,\nMy laptop does not start. By the way, the printer also jams.\n"
        "Übrigens: das WLAN ist langsam auch. Por cierto, la factura también falla.\n"
        "It also shows a blue screen."
    )
    kept = normalize.without_side_remarks(text)
    assert "printer" not in kept and "WLAN" not in kept and "factura" not in kept
    # "also" inside the ticket's own sentence is not a side remark
    assert "My laptop does not start." in kept and "It also shows a blue screen." in kept
    assert normalize.without_side_remarks("By the way, thanks!") == ""


def test_the_side_remarks_left_out_are_listed_once_each() -> None:
    text = "Printer jams.\nPrinter jams.\nBy the way, the WLAN is slow.\nÜbrigens: das WLAN auch.\nBy the way, the WLAN is slow."
    assert normalize.side_remarks(text) == ["By the way, the WLAN is slow.", "Übrigens: das WLAN auch."]
    assert (
        normalize.side_remarks("The printer also jams, by the way.") == []
    )  # not a sentence opening with it


@pytest.mark.parametrize(
    "sentence",
    [
        "P.S. How do I add a user?",
        "PS: Gibt es einen Handytarif?",
        "P. S. the fax too",
        "PPS: one more",
        "P.S.: x",
        "P.P.S. one more",
        "ps the TV box",
    ],
)
def test_a_postscript_is_a_side_remark_whatever_its_punctuation(sentence) -> None:
    # a word boundary cannot follow "P.S." or "PS:": the pattern once ended in one, and no
    # postscript was ever left out
    assert normalize.is_side_remark(sentence)
    assert normalize.side_remarks(f"The invoice is wrong.\n{sentence}") == [sentence]


@pytest.mark.parametrize("sentence", ["PS4 controller does not pair.", "Please help.", "Psst, it is broken."])
def test_words_that_start_like_a_postscript_are_not_one(sentence) -> None:
    assert not normalize.is_side_remark(sentence)


def test_an_apology_for_writing_is_an_aside_and_a_fault_named_like_it_is_not() -> None:
    text = (
        "Guten Tag, Entschuldigen Sie die Störung.\nDie Rechnung ist doppelt. Sorry to bother you again!\n"
        "PS: Gibt es einen günstigeren Tarif?"
    )
    assert normalize.without_asides(text) == "Die Rechnung ist doppelt."
    # the same word naming the problem stays, and so does an apology that goes on to the problem
    for kept in ("Seit heute früh Störung im ganzen Ort.", "Sorry, the export fails again."):
        assert normalize.without_asides(kept) == kept
        assert not normalize.is_apology(kept)
