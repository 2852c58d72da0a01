"""How much of the ticket type any text model can get right on the hard labelled sets: an upper bound.

    python bench/type_bound.py

tests/fixtures/eval/make_sets.py frames 90% of a hard set's tickets with a sentence from their own
type's pool ("Since this morning {o} {b}." for an incident, "Could you please {a}?" for a request,
"I want to complain, {o} {b}.") and the other 10% with a neutral frame that holds a symptom or a
request whatever the type is ("About the portal: ..."); a subject names the type ("Portal
(request)") on about 7% of the tickets. 15% of the labels are then replaced. A ticket with neither
cue says nothing about its type, only what its queue and its urgency phrases say about it
(priority depends on the type).

This script fits a model that is *told* what a text model can only read: the clean type of every
ticket whose text carries a type cue (recorded while the generator writes it), the clean queue,
and how many phrases of each urgency pool the text holds. It is fitted on generated rows of the
same set (other seeds), its per-value offsets chosen for macro-F1 as the offline model's are
(learned.choose_offsets), and scored against the noisy labels of 20,000 other generated rows. It
also prints the ceiling the local-model bench reports (the clean labels scored against the noisy
ones), which credits the uncued tickets as well.

Then, on each shipped hard set (tests/fixtures/eval/NAME.csv, written again with the cues noted,
trained on its first 70% as the local-model bench's file-order split is): the offline model's and
the baseline's type accuracy against the clean labels, apart on the tickets with a type cue and on
those without. Where ours is right on (nearly) every cued ticket, what it misses is the noise and
the uncued tickets, which no text model can read. With them, the split's own bound: the macro-F1
against the noisy labels of a reader right on every cued ticket that takes ours' guess on the
others, beside ours' and the baseline's.

Compare with `python bench/local_model.py --sets-only`'s type lines on helpdesk_hard and shop_hard.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import emit  # noqa: E402
from bench.priority_bound import (  # noqa: E402
    SCORED_ROWS,
    _generator,
    fitted_bound,
    generated_rows,
    urgency_counts,
)
from triage.adapters.llm import evaluation  # noqa: E402
from triage.adapters.llm.base import TicketInput  # noqa: E402
from triage.adapters.llm.local import LocalTriageModel, local_model_train  # noqa: E402

HARD_SETS = ("helpdesk_hard", "shop_hard")
EVAL = ROOT / "tests" / "fixtures" / "eval"


class _Recorded(dict):
    """The generator's type pools, noting whether a ticket's frame was read from them."""

    used = False

    def __getitem__(self, key: str) -> dict:
        self.used = True
        return super().__getitem__(key)


def _recording(original: Callable[..., tuple[str, str]], cued: list[bool]) -> Callable[..., tuple[str, str]]:
    """make_sets._ticket_hard, also appending to `cued` whether the ticket carries a type cue: its
    frame from its type's pool, or its type word in the subject ("Portal (request)")."""

    def ticket(rng, topics, types, queue, kind, lang, priority, hard):  # noqa: ANN001, ANN202, PLR0913
        pools = _Recorded(types)
        subject, body = original(rng, topics, pools, queue, kind, lang, priority, hard)
        cued.append(pools.used or f"({kind})" in subject.lower())
        return subject, body

    return ticket


def _generated(generator, conf: dict) -> tuple[list[dict], list[dict], list[bool]]:  # noqa: ANN001
    """(rows, their clean labels, whether each carries a type cue) as make_set writes them."""
    clean: list[dict[str, str]] = []
    cued: list[bool] = []
    original = generator._ticket_hard
    generator._ticket_hard = _recording(original, cued)
    try:
        rows = generator.make_set(clean=clean, **conf)
    finally:
        generator._ticket_hard = original
    return rows, clean, cued


def _rows(generator, name: str, seed: int, n: int) -> tuple[np.ndarray, np.ndarray, float]:  # noqa: ANN001
    """(features, noisy type labels, the ceiling's macro-F1) of n generated rows."""
    conf = {**generator.SETS[name], "seed": seed, "rows": n}
    kinds, queues = list(conf["types"]), list(conf["topics"])
    rows, clean, cued = _generated(generator, conf)
    out = np.zeros((n, len(kinds) + 1 + len(queues) + 3))
    for i, (row, labels) in enumerate(zip(rows, clean, strict=True)):
        if cued[i]:
            out[i, kinds.index(labels["category"])] = 1.0
        else:
            out[i, len(kinds)] = 1.0
        out[i, len(kinds) + 1 + queues.index(labels["queue"])] = 1.0
        out[i, -3:] = urgency_counts(generator, row)
    labels = np.asarray([r["category"] for r in rows])
    ceiling = float(f1_score(labels, [c["category"] for c in clean], average="macro"))
    return out, labels, ceiling


def on_the_set(generator, name: str) -> None:  # noqa: ANN001
    """Ours and the baseline on the shipped set's file-order split: type accuracy against the clean
    labels, on the test tickets with a type cue and on those without."""
    rows, clean, cued = _generated(generator, generator.SETS[name])
    labelled = evaluation.dataset_read(EVAL / f"{name}.csv")
    if [r.labels["category"] for r in labelled] != [r["category"] for r in rows]:
        raise SystemExit(f"{name}.csv is not what make_sets.py writes: run it again")
    train, test = evaluation.split(labelled, 0.7)
    tickets = [TicketInput(ticket_id=i, subject=r.subject, body=r.body) for i, r in enumerate(labelled)]
    taxonomy = evaluation.taxonomy_load(EVAL / f"{name}_taxonomy.json")
    trained = local_model_train(
        labeled=[(tickets[i], r.labels) for i, r in enumerate(train)], taxonomy=taxonomy, version="bench"
    )
    ours = [
        o.result.category.value
        for o in LocalTriageModel(trained=trained).triage_many(tickets[len(train) :], taxonomy)
    ]
    baseline = evaluation.baseline_predictions(train=train, test=test, fields=("category",))["category"]
    truth = [c["category"] for c in clean[len(train) :]]
    with_cue = np.asarray(cued[len(train) :])
    labels = [r.labels["category"] for r in test]
    # the split's own bound: every cued ticket right (its clean label), ours' guess on the others
    told = [t if c else p for t, c, p in zip(truth, with_cue, ours, strict=True)]
    for who, predicted in (("ours", ours), ("baseline", baseline), ("cued_right_else_ours", told)):
        emit(
            f"type_macro_f1_file_order_split_{who}",
            float(f1_score(labels, predicted, average="macro")),
            "macro-F1",
            None,
            set=name,
        )
    for who, predicted in (("ours", ours), ("baseline", baseline)):
        right = np.asarray([p == t for p, t in zip(predicted, truth, strict=True)])
        for part, mask in (("cued", with_cue), ("uncued", ~with_cue)):
            emit(
                f"type_accuracy_vs_clean_labels_{who}_{part}",
                float(right[mask].mean()),
                "fraction",
                None,
                set=name,
                tickets=int(mask.sum()),
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.parse_args()
    generator = _generator()
    for name in HARD_SETS:
        (x_test, y_test, ceiling), large, small = generated_rows(_rows, generator, name)
        cued = 1.0 - float(x_test[:, len(generator.SETS[name]["types"])].mean())
        emit("type_cued_share", cued, "fraction", None, set=name, scored_rows=SCORED_ROWS)
        emit("type_macro_f1_ceiling", ceiling, "macro-F1", None, set=name, scored_rows=SCORED_ROWS)
        for label, train in (("cue_queue_phrases", large), ("cue_queue_phrases_1540_rows", small)):
            emit(
                f"type_macro_f1_bound_{label}",
                fitted_bound(train[:2], (x_test, y_test), slice(None)),
                "macro-F1",
                None,
                set=name,
                scored_rows=SCORED_ROWS,
            )
        on_the_set(generator, name)


if __name__ == "__main__":
    main()
