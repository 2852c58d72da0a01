"""How far day one's confidences are from its accuracy, per labelled set and field: the offline
model before any review (taxonomy similarity and cues; no tickets fitted), on every ticket of each
set in tests/fixtures/eval with its own taxonomy. Prints JSON lines {"metric", "value", "unit",
"goal"}; no goal: day one cannot be calibrated without reviews, which is why the ticket page says
its confidences are the model's own estimate. Once a version is trained, its confidences are its
held-out accuracy (ECE goal <= 0.05, bench/local_model.py).

- dayone_accuracy, dayone_mean_confidence, dayone_ece: per set and field
- dayone_below_chance: share of confidences under 1/k for a field of k values (should be 0)

    python bench/dayone_calibration.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import emit  # noqa: E402
from triage.adapters.llm import evaluation  # noqa: E402
from triage.adapters.llm.base import TicketInput  # noqa: E402
from triage.adapters.llm.learned import expected_calibration_error  # noqa: E402
from triage.adapters.llm.local import LocalTriageModel  # noqa: E402

EVAL = ROOT / "tests" / "fixtures" / "eval"
SETS = ("tickets", "helpdesk", "shop", "helpdesk_hard", "shop_hard", "independent", "telecom")
FIELDS = ("category", "priority", "queue", "sentiment")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS), help="labelled sets to read")
    args = parser.parse_args()
    model = LocalTriageModel()
    for name in args.sets:
        rows = evaluation.dataset_read(EVAL / f"{name}.csv")
        taxonomy_file = EVAL / ("taxonomy.json" if name == "tickets" else f"{name}_taxonomy.json")
        taxonomy = evaluation.taxonomy_load(taxonomy_file)
        tickets = [TicketInput(ticket_id=i, subject=r.subject, body=r.body) for i, r in enumerate(rows)]
        outcomes = model.triage_many(tickets, taxonomy)
        for field in FIELDS:
            if not all(r.labels.get(field) for r in rows):
                continue  # the set has no labels for this field
            guesses = [getattr(o.result, field) for o in outcomes]
            confidence = np.array([g.confidence for g in guesses])
            right = np.array([g.value == r.labels[field] for g, r in zip(guesses, rows, strict=True)])
            chance = round(1 / len(taxonomy.values(field)), 3)
            extra = {"set": name, "field": field, "tickets": len(rows)}
            emit("dayone_accuracy", float(right.mean()), "fraction", **extra)
            emit("dayone_mean_confidence", float(confidence.mean()), "fraction", **extra)
            emit("dayone_ece", expected_calibration_error(confidence, right), "ece", **extra)
            emit("dayone_below_chance", float((confidence < chance).mean()), "fraction", **extra)


if __name__ == "__main__":
    main()
