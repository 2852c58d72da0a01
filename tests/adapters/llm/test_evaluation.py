"""evaluation.evaluate: the per-field lines triage_eval prints, the calibration error among them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from triage.adapters.llm import evaluation
from triage.adapters.llm.local import LocalTriageModel
from triage.adapters.llm.schema import FieldGuess

EVAL = Path(__file__).resolve().parents[2] / "fixtures" / "eval"


class _SureOfEverything:
    """The local model's answers with every confidence forced to one value: the calibration error
    is then |accuracy - that value| exactly, whatever the model got right."""

    provider = "local"

    def __init__(self, confidence: float) -> None:
        self.inner = LocalTriageModel()
        self.confidence = confidence

    def triage(self, ticket, taxonomy):  # noqa: ANN001, ANN201 - the TriageClient protocol
        outcome = self.inner.triage(ticket, taxonomy)
        result = outcome.result
        assert result is not None
        updates = {
            name: FieldGuess(value=getattr(result, name).value, confidence=self.confidence)
            for name in evaluation.SCORED_FIELDS
        }
        return replace(outcome, result=result.model_copy(update=updates))


def _lines(confidence: float) -> dict[str, dict]:
    taxonomy = evaluation.taxonomy_load(EVAL / "taxonomy.json")
    tickets = evaluation.dataset_read(EVAL / "tickets.csv")[:40]
    lines = evaluation.evaluate(client=_SureOfEverything(confidence), taxonomy=taxonomy, tickets=tickets)
    return {line["field"]: line for line in lines if "field" in line}


def test_every_field_line_carries_its_calibration_error_against_the_issue_goal():
    for confidence in (1.0, 0.5):
        for name, line in _lines(confidence).items():
            assert line["ece_goal"] == "<= 0.05", name
            assert abs(line["ece"] - abs(line["accuracy"] - confidence)) < 1e-3, (name, confidence)


def test_an_overconfident_field_misses_the_goal():
    lines = _lines(1.0)
    wrong = [line for line in lines.values() if line["accuracy"] < 0.95]
    assert wrong, "day one gets some field of 40 tickets wrong more than 5% of the time"
    assert all(line["ece"] > 0.05 for line in wrong)


def test_shuffled_keeps_file_order_for_seed_zero_and_a_fixed_other_order_per_seed():
    rows = evaluation.dataset_read(EVAL / "helpdesk.csv")
    assert evaluation.shuffled(rows, seed=0) == rows
    first, again, other = (evaluation.shuffled(rows, seed=s) for s in (1, 1, 2))
    assert first == again  # the same seed, the same split: comparable across providers and runs
    assert first != rows and first != other
    key = lambda t: (t.subject, t.body)  # noqa: E731
    assert sorted(first, key=key) == sorted(rows, key=key)  # a permutation: no row lost or repeated
