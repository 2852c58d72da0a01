"""Day one self-trained on unlabelled texts (triage/adapters/llm/dayone.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from triage.adapters.llm import dayone, evaluation
from triage.adapters.llm.base import TicketInput
from triage.adapters.llm.learned import field_scores
from triage.adapters.llm.local import LocalTriageModel, dayone_texts, local_model_fit_unlabelled

EVAL = Path(__file__).resolve().parents[2] / "fixtures" / "eval"


def test_seed_labels_keep_the_surer_share_of_each_value_and_a_minimum_for_rare_ones() -> None:
    prior = np.array([[0.9, 0.1], [0.6, 0.4], [0.8, 0.2], [0.7, 0.3], [0.45, 0.55]])
    rows, labels = dayone.seed_labels(prior, share=0.5)
    # value 0 wins 4 rows: the 3 surest (MIN_SEEDS) by lead; value 1 wins its only row
    assert sorted(rows[labels == 0].tolist()) == [0, 2, 3]
    assert rows[labels == 1].tolist() == [4]


def test_fit_reads_no_labels_and_beats_the_similarity_queue_on_held_out_rows() -> None:
    taxonomy = evaluation.taxonomy_load(EVAL / "helpdesk_taxonomy.json")
    train, test = evaluation.split(evaluation.dataset_read(EVAL / "helpdesk.csv"), 0.7)
    unlabelled = [TicketInput(ticket_id=i, subject=r.subject, body=r.body) for i, r in enumerate(train)]
    held_out = [TicketInput(ticket_id=i, subject=r.subject, body=r.body) for i, r in enumerate(test)]
    model = local_model_fit_unlabelled(unlabelled, taxonomy)  # TicketInput carries no labels
    assert model is not None and model.n_texts == len(train)
    truth = [r.labels["queue"] for r in test]
    before = LocalTriageModel().triage_many(held_out, taxonomy)
    after = LocalTriageModel(unlabelled=model).triage_many(held_out, taxonomy)
    f1_before = field_scores(truth, [o.result.queue.value for o in before])["macro_f1"]
    f1_after = field_scores(truth, [o.result.queue.value for o in after])["macro_f1"]
    assert f1_after >= f1_before + 0.05
    assert all(0.01 <= o.result.queue.confidence <= 0.95 for o in after)
    # the learned model feeds prior features with probabilities that sum to 1
    prior = LocalTriageModel(unlabelled=model).prior_probabilities([unlabelled[0].body], taxonomy)
    assert np.isclose(prior["queue"].sum(), 1.0)


def test_another_taxonomy_is_not_served_by_a_model_fitted_for_this_one() -> None:
    helpdesk = evaluation.taxonomy_load(EVAL / "helpdesk_taxonomy.json")
    shop = evaluation.taxonomy_load(EVAL / "shop_taxonomy.json")
    rows = evaluation.dataset_read(EVAL / "helpdesk.csv")[:300]
    model = local_model_fit_unlabelled(
        [TicketInput(ticket_id=i, subject=r.subject, body=r.body) for i, r in enumerate(rows)], helpdesk
    )
    ticket = TicketInput(ticket_id=1, subject="Refund", body="Where is my refund for the returned shoes?")
    plain = LocalTriageModel().triage(ticket, shop).result.queue
    served = LocalTriageModel(unlabelled=model).triage(ticket, shop).result.queue
    assert (served.value, served.confidence) == (plain.value, plain.confidence)

    # the day-one queue fitted for this taxonomy reads the ticket without its side remarks, and says so
    aside = TicketInput(ticket_id=2, subject="VPN", body="The VPN drops. By the way, my mouse is broken.")
    assert LocalTriageModel(unlabelled=model).triage(aside, helpdesk).extra["side_remarks"] == [
        "By the way, my mouse is broken."
    ]
    assert LocalTriageModel(unlabelled=model).triage(aside, shop).extra["side_remarks"] == []


def test_too_little_text_gives_no_model() -> None:
    taxonomy = evaluation.taxonomy_load(EVAL / "helpdesk_taxonomy.json")
    assert local_model_fit_unlabelled([TicketInput(ticket_id=1, subject="x", body="")], taxonomy) is None


def test_the_taxonomy_phrases_weigh_a_fixed_share_of_the_seeds_whatever_their_number() -> None:
    for seeds, phrases in ((30, 56), (900, 56), (900, 12)):
        assert np.isclose(dayone.phrase_weight(seeds, phrases) * phrases, dayone.PHRASE_WEIGHT * seeds)


def test_a_value_no_text_wins_is_still_learned_from_its_taxonomy_phrases() -> None:
    texts = ["laptop screen broken laptop", "laptop keyboard broken"] * 4 + ["invoice wrong amount"] * 4
    prior = np.array([[0.9, 0.05, 0.05]] * 8 + [[0.05, 0.9, 0.05]] * 4)
    phrases = [
        ("laptop screen", 0),
        ("invoice amount", 1),
        ("badge office door", 2),
        ("office door badge", 2),
    ]
    model = dayone.fit_unlabelled(
        texts,
        lambda name: prior,
        lambda name: ["it", "billing", "facilities"],
        taxonomy_key="k",
        phrases=lambda name: phrases,
    )
    assert model is not None
    field = model.fields["queue"]
    assert 2 in field.classifier.classes_.tolist()
    assert field.probabilities(["my office door badge does not open the door"])[0].argmax() == 2
    without = dayone.fit_unlabelled(
        texts, lambda name: prior, lambda name: ["it", "billing", "facilities"], taxonomy_key="k"
    )
    assert 2 not in without.fields["queue"].classifier.classes_.tolist()


def test_the_fitted_queue_does_not_compute_the_similarity_it_replaces(monkeypatch) -> None:
    taxonomy = evaluation.taxonomy_load(EVAL / "helpdesk_taxonomy.json")
    rows = evaluation.dataset_read(EVAL / "helpdesk.csv")[:300]
    model = local_model_fit_unlabelled(
        [TicketInput(ticket_id=i, subject=r.subject, body=r.body) for i, r in enumerate(rows)], taxonomy
    )
    served = LocalTriageModel(unlabelled=model)
    queue = served._models(taxonomy).fields["queue"]
    calls = []
    original = queue.transform
    monkeypatch.setattr(queue, "transform", lambda texts: calls.append(len(texts)) or original(texts))
    served.triage(TicketInput(ticket_id=1, subject="VPN", body="The VPN drops every hour."), taxonomy)
    assert calls == []  # before: the whole similarity queue, then overwritten
    LocalTriageModel().triage(TicketInput(ticket_id=1, subject="VPN", body="The VPN drops."), taxonomy)


def test_a_side_remark_about_another_queue_does_not_move_the_fitted_queue() -> None:
    taxonomy = evaluation.taxonomy_load(EVAL / "helpdesk_taxonomy.json")
    train, test = evaluation.split(evaluation.dataset_read(EVAL / "helpdesk.csv"), 0.7)
    model = local_model_fit_unlabelled(
        [TicketInput(ticket_id=i, subject=r.subject, body=r.body) for i, r in enumerate(train)], taxonomy
    )
    served = LocalTriageModel(unlabelled=model)
    remark = "\nBy the way, the payslip also shows the wrong salary and the invoice is missing."
    moved = 0
    for i, row in enumerate(test[:60]):
        plain = served.triage(TicketInput(ticket_id=i, subject=row.subject, body=row.body), taxonomy)
        noisy = served.triage(TicketInput(ticket_id=i, subject=row.subject, body=row.body + remark), taxonomy)
        moved += plain.result.queue.value != noisy.result.queue.value
    assert moved == 0


def test_the_day_one_queue_reads_no_apology_for_writing() -> None:
    """German mail about any topic opens with "Entschuldigen Sie die Störung", and "Störung" is also
    what a line fault is called: read as content, it pulled invoices towards an outage queue."""
    plain = "Die Rechnung ist doppelt.\nBitte korrigieren."
    assert dayone_texts([f"Guten Tag, Entschuldigen Sie die Störung.\n{plain}"]) == dayone_texts([plain])
    assert dayone_texts([f"Sorry to bother you. {plain}"]) == dayone_texts([plain])
