"""The offline model's speed and accuracy on this machine. Prints JSON lines
{"metric", "value", "unit", "goal"} (goal null where the issue sets none).

    python bench/local_model.py

- text-only classification, tickets/second: one ticket per call (what a worker does) and in
  batches of 64 (triage_eval, a backlog); goal >= 50
- OCR of a generated 1920x1080 UI screenshot, seconds per image after the engine is loaded;
  goal < 2
- training time on 240 reviewed tickets, and accuracy on the other 240 (tests/fixtures/eval)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.screenshots import ERROR_LINES, error_dialog_png  # noqa: E402
from triage.adapters.llm import evaluation  # noqa: E402
from triage.adapters.llm.base import TicketInput  # noqa: E402
from triage.adapters.llm.local import LocalTriageModel, local_model_train  # noqa: E402
from triage.adapters.ocr import RapidOcrReader  # noqa: E402

EVAL = ROOT / "tests" / "fixtures" / "eval"


def emit(metric: str, value: float, unit: str, goal: str | None = None, **extra: object) -> None:
    print(
        json.dumps({"metric": metric, "value": round(value, 3), "unit": unit, "goal": goal, **extra}),
        flush=True,
    )


def main() -> None:
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()
    taxonomy = evaluation.taxonomy_load(EVAL / "taxonomy.json")
    rows = evaluation.dataset_read(EVAL / "tickets.csv")
    tickets = [TicketInput(ticket_id=i, subject=r.subject, body=r.body) for i, r in enumerate(rows)]

    model = LocalTriageModel()
    started = time.perf_counter()
    model.triage(tickets[0], taxonomy)  # fits the taxonomy, loads the language models
    emit("local_model_first_ticket", time.perf_counter() - started, "s", None)

    started = time.perf_counter()
    for ticket in tickets:
        model.triage(ticket, taxonomy)
    emit("classify_one_by_one", len(tickets) / (time.perf_counter() - started), "tickets/s", ">= 50")

    started = time.perf_counter()
    for i in range(0, len(tickets), 64):
        model.triage_many(tickets[i : i + 64], taxonomy)
    emit("classify_batches_of_64", len(tickets) / (time.perf_counter() - started), "tickets/s", ">= 50")

    train, test = evaluation.split(rows, 0.5)
    started = time.perf_counter()
    trained = local_model_train(
        labeled=[(tickets[i], r.labels) for i, r in enumerate(train)], taxonomy=taxonomy, version="bench"
    )
    emit("train_240_reviews", time.perf_counter() - started, "s", None)
    learned = LocalTriageModel(trained=trained)
    test_tickets = tickets[len(train) :]
    started = time.perf_counter()
    for ticket in test_tickets:
        learned.triage(ticket, taxonomy)
    emit(
        "classify_one_by_one_trained",
        len(test_tickets) / (time.perf_counter() - started),
        "tickets/s",
        ">= 50",
    )
    for name, client in (("day_one", model), ("trained", learned)):
        outcomes = client.triage_many(test_tickets, taxonomy)
        for field in ("category", "priority", "queue", "sentiment", "language"):
            hits = [
                getattr(o.result, field).value == r.labels[field] for o, r in zip(outcomes, test, strict=True)
            ]
            emit(f"accuracy_{field}_{name}", sum(hits) / len(hits), "fraction", None, rows=len(hits))

    reader = RapidOcrReader()
    image = error_dialog_png(1920, 1080)
    started = time.perf_counter()
    first = reader.read(image)
    emit("ocr_engine_load_and_first_image", time.perf_counter() - started, "s", None)
    times = []
    for _ in range(3):
        started = time.perf_counter()
        result = reader.read(image)
        times.append(time.perf_counter() - started)
    read = sum(line in [x.text for x in result.lines] for line in ERROR_LINES)
    emit(
        "ocr_1920x1080_screenshot",
        statistics.median(times),
        "s",
        "< 2",
        lines_expected_read=f"{read}/{len(ERROR_LINES)}",
    )
    assert first.lines  # noqa: S101 - a bench that read nothing measured nothing


if __name__ == "__main__":
    main()
