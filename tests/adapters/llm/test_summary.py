from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

from triage.adapters.llm.base import TicketInput
from triage.adapters.llm.local import LocalTriageModel
from triage.adapters.llm.summary import (
    ENVIRONMENT_PREFIX,
    SCREEN_PREFIX,
    environment,
    join_summary,
    summarize,
)
from triage.taxonomy_defaults import DEFAULT_TAXONOMY_ROWS, taxonomy_from_rows

SUMMARY_SET = Path(__file__).resolve().parents[2] / "fixtures" / "eval" / "summary.csv"


class FlatScorer:
    """Every sentence equally close to the one category: only the summary's own cues decide."""

    values = ["bug"]

    def transform(self, texts: list[str]) -> sparse.csr_matrix:
        return sparse.csr_matrix((len(texts), 1))

    def scores_for(self, vectors: sparse.csr_matrix) -> np.ndarray:
        return np.zeros((vectors.shape[0], 1))


def lines_for(subject: str, body: str, ocr: str = "") -> list[str]:
    ticket = TicketInput(ticket_id=1, subject=subject, body=body, ocr_text=ocr)
    return summarize([ticket], FlatScorer(), np.zeros(1, dtype=int))[0]


def test_the_summary_is_problem_then_screen_error_then_environment():
    lines = lines_for(
        "Sync stopped",
        "Hi,\nSyncing gets stuck at 40% and then gives up.\nIt says something about a timeout.\n"
        "I use Firefox 128 on Windows 11.\nThanks, Anna",
        "File  Edit  View\n00:00:02.500\nSync error E_TIMEOUT at 00:00:02.500\nREC ●",
    )
    assert lines == [
        "Syncing gets stuck at 40% and then gives up.",
        f"{SCREEN_PREFIX}Sync error E_TIMEOUT",
        f"{ENVIRONMENT_PREFIX}Firefox 128, Windows 11",
    ]


def test_the_screenshots_error_wins_over_the_requesters_retelling_of_it():
    lines = lines_for(
        "Export broken",
        "The export button does nothing. There is some error message about the disk.",
        "Error: disk quota exceeded (Q-17)",
    )
    assert lines[-1] == f"{SCREEN_PREFIX}Error: disk quota exceeded (Q-17)"
    assert not any("some error message" in line for line in lines)


def test_a_side_remark_is_neither_the_problem_nor_the_error():
    lines = lines_for(
        "Login",
        "The portal rejects my password since this morning. "
        "By the way, Excel also shows an error 0x80070005 on start. Übrigens: der Drucker fällt aus.",
    )
    assert lines == ["The portal rejects my password since this morning."]
    # a ticket that is nothing but a side remark still gets a summary
    assert lines_for("Printer", "By the way, the printer jams.") == ["By the way, the printer jams."]


def test_a_written_exception_line_is_the_error_line_without_a_screenshot():
    lines = lines_for(
        "App crashes on save",
        "When I click Save the app crashes.\nTraceback (most recent call last):\n"
        '  File "/srv/app/editor.py", line 88, in save\nValueError: invalid literal for int()\nThanks, Anna',
    )
    assert lines == ["When I click Save the app crashes.", "ValueError: invalid literal for int()"]


@pytest.mark.parametrize(
    ("ocr", "expected"),
    [
        ("Sync error E_TIMEOUT  0:02 / 0:06\n━━━━━●──────", "Sync error E_TIMEOUT"),
        ("2026-12-01 10:22:01 Upload rejected (413)", "Upload rejected (413)"),
        ("Payment declined: card_declined\nframe 12/300", "Payment declined: card_declined"),
    ],
)
def test_overlays_and_player_bars_are_removed_from_the_screen_error(ocr, expected):
    assert lines_for("Problem", "Something is not working for me here.", ocr)[-1] == SCREEN_PREFIX + expected


def test_the_subject_is_not_repeated_when_the_body_only_greets():
    lines = lines_for("Sync stopped", "Hi, the sync stopped this morning. Thanks", "Sync error E_TIMEOUT")
    assert "Sync stopped" not in lines
    assert lines[0] == "The sync stopped this morning."


@pytest.mark.parametrize(
    ("body", "first"),
    [
        ("Hola, quisiera saber cómo puedo exportar la lista de clientes a un archivo CSV.", "Quisiera saber"),
        ("Hallo zusammen, über Nacht ist der Export abgebrochen.", "Über Nacht"),
        ("Hi team, iOS 17 users cannot log in since the update.", "iOS 17"),
    ],
)
def test_a_problem_after_a_greeting_starts_as_a_sentence_does(body, first):
    """Capitalized where the greeting lowered it; a name spelled in mixed case is left as it is."""
    assert lines_for("Question", body)[0].startswith(first)


@pytest.mark.parametrize(
    "body",
    [
        "Hello team, I cannot log in since yesterday.",
        "Hi Anna, I cannot log in since yesterday.",
        "Hallo zusammen: I cannot log in since yesterday.",
    ],
)
def test_a_greeting_with_its_addressee_is_left_out_of_the_problem(body):
    (line,) = lines_for("Cannot log in", body)
    assert line == "I cannot log in since yesterday."


def test_numbered_steps_are_not_cut_into_sentences():
    lines = lines_for("Upload", "Steps: 1. open the app 2. click upload 3. wait.")
    assert lines == ["Steps: 1. open the app 2. click upload 3. wait."]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I use Firefox 128 on Windows 11.", ["Firefox 128", "Windows 11"]),
        (
            "Happens on my iPhone 15 Pro with iOS 17.4 (app version 4.2.1).",
            ["iOS 17.4", "iPhone 15 Pro", "app version 4.2.1"],
        ),
        ("Ich nutze Edge unter macOS Sonoma, App-Version 3.9.", ["Edge", "macOS Sonoma", "Version 3.9"]),
        ("Chrome version 126 / Ubuntu 22.04 / v5.0.2", ["Chrome version 126", "Ubuntu 22.04", "v5.0.2"]),
    ],
)
def test_the_stated_environment_is_read_verbatim(text, expected):
    assert environment(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "The edge of the table is cut off and the windows close on their own.",
        "Steps: 1. open the app 2. click the button. Error 500 after 3 tries.",
        "The opera page fails with HTTP 502.",
    ],
)
def test_no_environment_is_invented_from_common_words_or_error_codes(text):
    assert environment(text) == []
    assert not any(line.startswith(ENVIRONMENT_PREFIX) for line in lines_for("Problem", text))


def test_summary_lines_are_joined_one_per_line():
    assert join_summary(["Checkout fails.", "Error 500"]) == "Checkout fails.\nError 500"


def test_a_long_sentence_is_cut_to_a_short_verbatim_prefix():
    body = "The report " + " ".join(f"column{i}" for i in range(100)) + " is empty."
    (line,) = lines_for("Report", body)
    assert len(line) <= 200 and body.startswith(line)


def test_on_the_labelled_screenshot_set_the_summary_names_the_error_and_never_repeats_the_subject():
    with SUMMARY_SET.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    tickets = [
        TicketInput(ticket_id=i, subject=r["subject"], body=r["body"], ocr_text=r["ocr_text"])
        for i, r in enumerate(rows)
    ]
    outcomes = LocalTriageModel().triage_many(tickets, taxonomy_from_rows(DEFAULT_TAXONOMY_ROWS))
    named = sum(r["error"] in o.result.summary for r, o in zip(rows, outcomes, strict=True))
    repeated = sum(r["subject"] in o.result.summary.split("\n") for r, o in zip(rows, outcomes, strict=True))
    assert named / len(rows) >= 0.95
    assert repeated == 0
    assert all(len(o.result.summary.split("\n")) <= 3 for o in outcomes)
    stated = [(r, o) for r, o in zip(rows, outcomes, strict=True) if r["environment"]]
    found = sum(all(item in o.result.summary for item in r["environment"].split("; ")) for r, o in stated)
    assert stated and found / len(stated) >= 0.9
