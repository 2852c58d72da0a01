"""Day one fitted on the training split's texts WITHOUT labels (dayone.py), scored on the held-out 30%.

For every labelled set in tests/fixtures/eval: day-one macro-F1 per field before (the taxonomy
similarity alone) and after (the queue self-trained on the unlabelled 70%); the queue's ratio
after / before against the issue's goal (>= 1.5); fitting CPU seconds; tickets/s one at a time.
One JSON object per line.

    python bench/dayone_unlabelled.py [--sets helpdesk shop helpdesk_hard shop_hard]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from triage.adapters.llm import evaluation  # noqa: E402
from triage.adapters.llm.base import TicketInput  # noqa: E402
from triage.adapters.llm.learned import field_scores  # noqa: E402
from triage.adapters.llm.local import LocalTriageModel, local_model_fit_unlabelled  # noqa: E402

EVAL = ROOT / "tests" / "fixtures" / "eval"
SETS = ("helpdesk", "shop", "helpdesk_hard", "shop_hard", "independent", "telecom")
GOAL = 1.5


def _emit(**row: object) -> None:
    print(json.dumps(row), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    args = parser.parse_args()
    ratios = []
    for name in args.sets:
        tax = evaluation.taxonomy_load(EVAL / f"{name}_taxonomy.json")
        train, test = evaluation.split(evaluation.dataset_read(EVAL / f"{name}.csv"), 0.7)
        # TicketInput carries no labels: the fit cannot read them
        unlabelled = [TicketInput(ticket_id=i, subject=r.subject, body=r.body) for i, r in enumerate(train)]
        held_out = [TicketInput(ticket_id=i, subject=r.subject, body=r.body) for i, r in enumerate(test)]
        before = LocalTriageModel().triage_many(held_out, tax)
        started = time.process_time()
        fitted = local_model_fit_unlabelled(unlabelled, tax)
        fit = time.process_time() - started
        model = LocalTriageModel(unlabelled=fitted)
        model.triage(held_out[0], tax)
        started = time.process_time()
        after = [model.triage(t, tax) for t in held_out]
        rate = len(held_out) / (time.process_time() - started)
        _emit(metric=f"{name} day-one fit", value=round(fit, 2), unit="CPU s", texts=len(unlabelled))
        _emit(metric=f"{name} day-one tickets/s one at a time", value=round(rate), unit="tickets per CPU s")
        for field in ("category", "priority", "queue"):
            truth = [r.labels[field] for r in test]
            b = field_scores(truth, [getattr(o.result, field).value for o in before])["macro_f1"]
            a = field_scores(truth, [getattr(o.result, field).value for o in after])["macro_f1"]
            _emit(metric=f"{name} {field} day-one macro-F1", value=a, unit="macro-F1", before=b)
            if field == "queue":
                ratios.append(a / b)
                _emit(
                    metric=f"{name} queue day-one macro-F1 after / before",
                    value=round(a / b, 3),
                    unit="x",
                    goal=f">= {GOAL}",
                    met=a / b >= GOAL,
                )
    _emit(metric="lowest queue ratio over the sets", value=round(min(ratios), 3), unit="x", goal=f">= {GOAL}")
    _emit(
        metric="peak RSS",
        value=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        unit="MB",
        goal="<= 300",  # issue 19: the model's resident memory, day one included
    )


if __name__ == "__main__":
    main()
