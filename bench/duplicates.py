"""The offline duplicate finder on a labelled set (tests/fixtures/eval/duplicates.csv, written by
make_screenshot_sets.py): each ticket is compared with every ticket that arrived before it, as
the ticket page does with the last 30 days'. Prints JSON lines {"metric", "value", "unit", "goal"}.

- duplicate_precision_at_1: of the tickets that have an earlier duplicate, the share whose best
  candidate is one (goal >= 0.8)
- duplicate_proposal_precision / duplicate_proposal_recall: what the page shows (candidates
  scoring >= MIN_SCORE): the share of shown proposals that are right, and the share of tickets
  with a duplicate that get a right one
- duplicate_false_proposal_rate: tickets with no earlier duplicate that get a proposal anyway
- duplicate_ms_per_ticket_200_candidates: the finder's time against 200 candidates

    python bench/duplicates.py
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from triage.adapters.llm.duplicates import MIN_SCORE, TicketText, find_duplicates  # noqa: E402

SET = ROOT / "tests" / "fixtures" / "eval" / "duplicates.csv"


def emit(metric: str, value: float, unit: str, goal: str | None = None, **extra: object) -> None:
    print(
        json.dumps({"metric": metric, "value": round(value, 3), "unit": unit, "goal": goal, **extra}),
        flush=True,
    )


def main() -> None:
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()
    with SET.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    tickets = [
        TicketText(id=int(r["id"]), subject=r["subject"], body=r["body"], ocr_text=r["ocr_text"])
        for r in rows
    ]
    incident = {int(r["id"]): int(r["duplicate_of"] or r["id"]) for r in rows}
    asked = top_right = shown = shown_right = singles = false = 0
    for index, ticket in enumerate(tickets):
        earlier = tickets[:index]
        has = any(incident[t.id] == incident[ticket.id] for t in earlier)
        top = find_duplicates(ticket, earlier, limit=1, min_score=0.0)
        right = bool(top) and incident[top[0].id] == incident[ticket.id]
        proposed = bool(top) and top[0].score >= MIN_SCORE
        if has:
            asked += 1
            top_right += right
        else:
            singles += 1
            false += proposed
        shown += proposed
        shown_right += proposed and right
    emit(
        "duplicate_precision_at_1", top_right / asked, "fraction", ">= 0.8", tickets=asked, set_size=len(rows)
    )
    emit(
        "duplicate_proposal_precision",
        shown_right / max(1, shown),
        "fraction",
        None,
        min_score=MIN_SCORE,
        shown=shown,
    )
    emit("duplicate_proposal_recall", shown_right / asked, "fraction", None, min_score=MIN_SCORE)
    emit("duplicate_false_proposal_rate", false / singles, "fraction", None, tickets=singles)
    times = []
    for ticket in tickets[200:260]:
        started = time.perf_counter()
        find_duplicates(ticket, tickets[:200])
        times.append((time.perf_counter() - started) * 1000)
    emit("duplicate_ms_per_ticket_200_candidates", statistics.median(times), "ms", None)


if __name__ == "__main__":
    main()
