"""Day one fitted on the training split's texts WITHOUT labels (dayone.py), scored on the held-out 30%:
per set and field, day-one macro-F1 before -> after; fitting CPU seconds; tickets/s one at a time.

    python bench/dayone_unlabelled.py
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()
    for name in ("helpdesk", "shop"):
        tax = evaluation.taxonomy_load(EVAL / f"{name}_taxonomy.json")
        train, test = evaluation.split(evaluation.dataset_read(EVAL / f"{name}.csv"), 0.7)
        unlabelled = [TicketInput(ticket_id=i, subject=r.subject, body=r.body) for i, r in enumerate(train)]
        held_out = [TicketInput(ticket_id=i, subject=r.subject, body=r.body) for i, r in enumerate(test)]
        before = LocalTriageModel().triage_many(held_out, tax)
        started = time.process_time()
        fitted = local_model_fit_unlabelled(unlabelled, tax)
        fit = time.process_time() - started
        model = LocalTriageModel(unlabelled=fitted)
        model.triage(held_out[0], tax)
        started = time.perf_counter()
        after = [model.triage(t, tax) for t in held_out]
        rate = len(held_out) / (time.perf_counter() - started)
        print(
            f"{name}: fit {fit:.2f} CPU-s on {len(unlabelled)} unlabelled texts; {rate:.0f} tickets/s one at a time"
        )
        for field in ("category", "priority", "queue"):
            truth = [r.labels[field] for r in test]
            b = field_scores(truth, [getattr(o.result, field).value for o in before])["macro_f1"]
            a = field_scores(truth, [getattr(o.result, field).value for o in after])["macro_f1"]
            print(f"  {field}: {b:.3f} -> {a:.3f} ({a / b:.2f}x)")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
