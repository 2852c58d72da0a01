"""What a model reads of a long ticket: newest message first, head and tail, never over the cap."""

from __future__ import annotations

import pytest

from tests.factories import pasted_log
from triage.adapters.llm.text_budget import LANGUAGE_CHARS, head_tail, language_sample, model_text


def test_a_short_text_is_passed_whole():
    chosen = model_text(["Checkout fails with HTTP 500."], max_chars=1000)
    assert chosen.text == "Checkout fails with HTTP 500."
    assert not chosen.shortened


def test_an_8_mb_body_gives_its_head_and_tail_within_the_cap_and_nothing_from_its_middle():
    body = "Hello, the checkout fails. Log below.\n" + pasted_log(8_000_000) + "Thanks, Maria"
    cap = 60_000
    chosen = model_text([body], max_chars=cap)
    assert len(chosen.text) <= cap
    assert chosen.text.startswith("Hello, the checkout fails.")
    assert chosen.text.endswith("Thanks, Maria")
    assert "characters of this message left out" in chosen.text
    assert chosen.shortened and chosen.total_chars == len(body)
    # the line numbers that reached the model: a run at the start and a run at the end, no more
    numbers = [int(w) for w in chosen.text.split() if w.isdigit() and len(w) == 8]
    last = int(body[-60:].split("line ")[-1][:8])
    head = [n for n in numbers if n < last // 2]
    tail = [n for n in numbers if n >= last // 2]
    assert head == list(range(len(head))) and head  # from the first line on, contiguous
    assert tail == list(range(last - len(tail) + 1, last + 1)) and tail  # up to the last line
    middle = f"line {last // 2:08d}"
    assert middle in body and middle not in chosen.text
    assert len(head) > len(tail)  # the head (greeting, question) gets the larger share


@pytest.mark.parametrize("cap", [50, 401, 1_000, 12_345])
def test_the_cap_is_respected_for_any_size(cap):
    for n in (0, cap - 1, cap, cap + 1, 10 * cap):
        text = "x" * n
        assert len(head_tail(text, cap)) <= cap
        assert len(model_text([text, "y" * n, "z" * n], max_chars=cap).text) <= cap


def test_the_newest_message_comes_first_and_the_opening_message_keeps_room():
    opening = "OPENING: the invoice is wrong. " + pasted_log(200_000)
    newest = "NEWEST: and now the refund failed too. " + pasted_log(200_000)
    older = "OLDER: any news? " + pasted_log(200_000)
    chosen = model_text([newest, older, opening], max_chars=20_000)
    assert chosen.text.startswith("NEWEST:")
    assert chosen.text.index("NEWEST:") < chosen.text.index("OLDER:") < chosen.text.index("OPENING:")
    assert len(chosen.text) <= 20_000
    assert chosen.text.count("left out") == 3  # each message cut to its head and tail


def test_follow_ups_past_the_budget_are_counted_not_silently_dropped():
    messages = [*(f"follow-up {i}: " + "x" * 300 for i in range(10)), "OPENING: the invoice"]
    chosen = model_text(messages, max_chars=1_200)
    assert chosen.text.startswith("follow-up 0:")
    assert "follow-up 9" not in chosen.text
    assert "earlier message(s) left out]" in chosen.text
    assert chosen.text.endswith("OPENING: the invoice")  # the opening message keeps its room
    assert len(chosen.text) <= 1_200


def test_the_language_detector_reads_the_head_of_the_chosen_text():
    text = "Bonjour, le paiement échoue. " + "x" * 100_000
    assert language_sample(text) == text[:LANGUAGE_CHARS]
