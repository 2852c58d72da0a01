"""Evaluation as a feature: taxonomy JSON and labeled CSV in, per-field figures out. Pure, no ORM.

Formats (also in docs/models.md, "triage_eval"):
- taxonomy JSON: {"category": [{"value", "label", "description", "examples": [...]}, ...],
  "priority": [...], "queue": [...], "sentiment": [...]}; priorities from lowest to highest.
- dataset CSV (UTF-8, header row): `subject`, `body`, and one column per scored field
  (`category`, `priority`, `queue`, `sentiment`, `language`) holding the true value; a field
  whose column is absent or empty on a row is not scored on that row.
"""

from __future__ import annotations

import csv
import json
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from triage.adapters.llm.base import Taxonomy, TaxonomyEntry, TicketInput, TriageClient, taxonomy_of
from triage.adapters.llm.baseline import baseline_predict
from triage.adapters.llm.learned import expected_calibration_error, field_scores, reliability_table
from triage.fields import BY_NAME, TAXONOMY_FIELDS
from triage.fields import CLASSIFIED_FIELDS as SCORED_FIELDS

BATCH = 32


@dataclass(frozen=True)
class LabeledTicket:
    subject: str
    body: str
    labels: dict[str, str]


def taxonomy_load(path: str | Path) -> Taxonomy:
    data = json.loads(Path(path).read_text(encoding="utf-8"))

    def entries(name: str) -> tuple[TaxonomyEntry, ...]:
        # a field declared with default values (triage/fields.py) may be left out of the file
        rows = data.get(name) or [{"value": v, "label": label} for v, label in BY_NAME[name].defaults]
        if not rows:
            raise ValueError(f"taxonomy {path}: field '{name}' has no values")
        return tuple(
            TaxonomyEntry(
                value=str(row["value"]),
                label=str(row.get("label") or row["value"]),
                description=str(row.get("description", "")),
                examples=tuple(str(e) for e in row.get("examples", ())),
            )
            for row in rows
        )

    return taxonomy_of({name: entries(name) for name in TAXONOMY_FIELDS})


def taxonomy_dump(taxonomy: Taxonomy) -> dict:
    def rows(entries: tuple[TaxonomyEntry, ...]) -> list[dict]:
        return [
            {"value": e.value, "label": e.label, "description": e.description, "examples": list(e.examples)}
            for e in entries
        ]

    return {name: rows(taxonomy.entries(name)) for name in TAXONOMY_FIELDS}


def dataset_read(path: str | Path) -> list[LabeledTicket]:
    with Path(path).open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"subject", "body"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"dataset {path}: missing column(s) {', '.join(sorted(missing))}")
        return [
            LabeledTicket(
                subject=row["subject"] or "",
                body=row["body"] or "",
                labels={f: row[f].strip() for f in SCORED_FIELDS if (row.get(f) or "").strip()},
            )
            for row in reader
        ]


def evaluate(*, client: TriageClient, taxonomy: Taxonomy, tickets: Sequence[LabeledTicket]) -> Iterable[dict]:
    """Yield one dict per field (accuracy, macro-F1, reliability table), then the throughput."""
    truth: dict[str, list[str]] = {f: [] for f in SCORED_FIELDS}
    predicted: dict[str, list[str]] = {f: [] for f in SCORED_FIELDS}
    confidence: dict[str, list[float]] = {f: [] for f in SCORED_FIELDS}
    failed = 0
    model = ""
    inputs = [TicketInput(ticket_id=i, subject=t.subject, body=t.body) for i, t in enumerate(tickets)]
    many = getattr(client, "triage_many", None)  # the local model classifies a batch in one pass
    if many and inputs:
        many(inputs[:1], taxonomy)  # load the language models first: throughput, not start-up
    started = time.perf_counter()
    for start in range(0, len(inputs), BATCH):
        chunk = inputs[start : start + BATCH]
        outcomes = many(chunk, taxonomy) if many else [client.triage(t, taxonomy) for t in chunk]
        for ticket, outcome in zip(tickets[start : start + BATCH], outcomes, strict=True):
            model = outcome.model or model
            for name in SCORED_FIELDS:
                if name not in ticket.labels:
                    continue
                guess = getattr(outcome.result, name) if outcome.result is not None else None
                truth[name].append(ticket.labels[name])
                predicted[name].append(guess.value if guess else "")
                confidence[name].append(guess.confidence if guess else 0.0)
            failed += int(outcome.result is None)
    elapsed = time.perf_counter() - started
    for name in SCORED_FIELDS:
        if not truth[name]:
            continue
        hits = [t == p for t, p in zip(truth[name], predicted[name], strict=True)]
        yield {
            "field": name,
            "provider": client.provider,
            "model": model,
            "n": len(truth[name]),
            **field_scores(truth[name], predicted[name]),
            # the calibrated confidence's goal: ECE <= 0.05 per field on held-out reviews
            "ece": expected_calibration_error(confidence[name], hits),
            "ece_goal": "<= 0.05",
            "reliability": reliability_table(confidence[name], hits),
        }
    yield {
        "metric": "tickets_per_second",
        "value": round(len(tickets) / elapsed, 1) if elapsed > 0 else None,
        "n": len(tickets),
        "failed": failed,
        "seconds": round(elapsed, 3),
    }


def shuffled(tickets: Sequence[LabeledTicket], *, seed: int) -> list[LabeledTicket]:
    """The rows in file order for seed 0, else in a fixed random order per seed: another
    train/score split of the same set (one split's macro-F1 moves by a few hundredths with the
    split alone, so a difference between two models is read over several)."""
    rows = list(tickets)
    if seed:
        random.Random(seed).shuffle(rows)
    return rows


def baseline_predictions(
    *, train: Sequence[LabeledTicket], test: Sequence[LabeledTicket], fields: Sequence[str]
) -> dict[str, list[str]]:
    """The textbook baseline fitted on `train`'s labels, its value per field for each `test` row
    (subject and body read as one text, as the baseline is defined)."""
    return baseline_predict(
        train_texts=[f"{t.subject}\n{t.body}" for t in train],
        train_labels=[t.labels for t in train],
        test_texts=[f"{t.subject}\n{t.body}" for t in test],
        fields=fields,
    )


def split(
    tickets: Sequence[LabeledTicket], fraction: float
) -> tuple[list[LabeledTicket], list[LabeledTicket]]:
    """The first `fraction` of the rows (in file order) to train on, the rest to score."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError("--train-fraction must be in [0, 1)")
    cut = int(round(len(tickets) * fraction))
    return list(tickets[:cut]), list(tickets[cut:])
