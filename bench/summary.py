"""The offline summary on labelled tickets whose screenshots show a known error
(tests/fixtures/eval/summary.csv, written by make_screenshot_sets.py). Prints JSON lines
{"metric", "value", "unit", "goal"}.

- summary_error_recall: share of summaries that name the screenshot's error string (goal >= 0.95)
- summary_subject_repeated: share of summaries with a line that is the subject verbatim (goal == 0)
- summary_environment_recall: share of stated environment items (browser, OS, device, app
  version) the environment line names, and summary_environment_invented: share of tickets that
  state none but get an environment line
- summary_max_lines (goal <= 3) and summary_max_line_chars (the longest line; no goal)
- the same error recall through real OCR: the error lines (with a recorder's timestamp) drawn
  into a generated screenshot and read by RapidOCR, on the first --ocr tickets

    python bench/summary.py [--ocr 12]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import emit  # noqa: E402
from tests.screenshots import error_dialog_png  # noqa: E402
from triage.adapters.llm.base import TicketInput  # noqa: E402
from triage.adapters.llm.local import LocalTriageModel  # noqa: E402
from triage.adapters.llm.summary import ENVIRONMENT_PREFIX  # noqa: E402
from triage.taxonomy_defaults import DEFAULT_TAXONOMY_ROWS, taxonomy_from_rows  # noqa: E402

SET = ROOT / "tests" / "fixtures" / "eval" / "summary.csv"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ocr", type=int, default=12, help="tickets read through real OCR (0: none)")
    args = parser.parse_args()
    with SET.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    taxonomy = taxonomy_from_rows(DEFAULT_TAXONOMY_ROWS)
    model = LocalTriageModel()
    tickets = [
        TicketInput(ticket_id=i, subject=r["subject"], body=r["body"], ocr_text=r["ocr_text"])
        for i, r in enumerate(rows)
    ]
    summaries = [o.result.summary for o in model.triage_many(tickets, taxonomy)]
    lines = [s.split("\n") for s in summaries]
    emit(
        "summary_error_recall",
        sum(r["error"] in s for r, s in zip(rows, summaries, strict=True)) / len(rows),
        "fraction",
        ">= 0.95",
        tickets=len(rows),
    )
    emit(
        "summary_subject_repeated",
        sum(r["subject"].strip() in ls for r, ls in zip(rows, lines, strict=True)) / len(rows),
        "fraction",
        "== 0",
    )
    emit("summary_max_lines", max(len(ls) for ls in lines), "lines", "<= 3")
    # "short lines": the issue sets no number; the longest line shows what "short" came to
    emit("summary_max_line_chars", max(len(line) for ls in lines for line in ls), "characters", None)
    stated = found = invented = silent = 0
    for row, ls in zip(rows, lines, strict=True):
        env = next((line for line in ls if line.startswith(ENVIRONMENT_PREFIX)), "")
        items = [item for item in row["environment"].split("; ") if item]
        stated += len(items)
        found += sum(item.lower() in env.lower() for item in items)
        if not items:
            silent += 1
            invented += bool(env)
    emit("summary_environment_recall", found / stated, "fraction", None, items=stated)
    emit("summary_environment_invented", invented / max(1, silent), "fraction", None, tickets=silent)
    if args.ocr:
        from triage.adapters.ocr import RapidOcrReader

        reader = RapidOcrReader()
        sample = rows[: args.ocr]
        read = []
        for i, row in enumerate(sample):
            image = error_dialog_png(
                1280, 720, lines=(f"{row['error']} at 00:00:0{i % 10}.500", "Cancel   Retry")
            )
            read.append(
                TicketInput(
                    ticket_id=i, subject=row["subject"], body=row["body"], ocr_text=reader.read(image).text
                )
            )
        outcomes = model.triage_many(read, taxonomy)
        emit(
            "summary_error_recall_real_ocr",
            sum(r["error"] in o.result.summary for r, o in zip(sample, outcomes, strict=True)) / len(sample),
            "fraction",
            ">= 0.95",
            tickets=len(sample),
        )


if __name__ == "__main__":
    main()
