"""The offline language detector's confidence (triage/adapters/llm/language.py) against the labelled
language of the six sets of tests/fixtures/eval (11,480 tickets), each read as the offline model
reads it (language_sample of subject and body). Per mode (low, the default, then high), prints JSON
lines {"metric", "value", "unit", "goal"}:

- language_calibration_breakpoints: the (raw share, calibrated) table derived from the whole pool:
  an isotonic fit of right/wrong on lingua's raw share, its steps pooled until each holds
  MIN_BLOCK tickets (a step's accuracy then moves by at most 2 points per wrong ticket), each
  step's first and last share at its accuracy, and under the lowest share seen a line to chance
  (1/7: seven equal scores); values above the 0.99 ceiling are the ceiling
- language_calibration_shipped_difference: the largest |shipped - derived| at those breakpoints,
  where the shipped table is language.CALIBRATION (goal <= 0.02 in the low mode it was derived in)
- language_accuracy, language_ece_raw and language_ece_calibrated per set and overall (expected
  calibration error over 0.1-wide bands, learned.expected_calibration_error; the calibrated one is
  what detect_language reports, goal <= 0.05), and language_ece_derived: the pool scored with the
  table derived here (in-sample; in the high mode, what a table of its own would give)
- language_cross_ece_raw, language_cross_ece_calibrated (goal <= 0.05) and
  language_cross_ece_isotonic: a table derived on the easy sets (helpdesk, shop, tickets) scored on
  the others and the other way round; the isotonic one is the fit itself, not pooled into a table

    python bench/language_calibration.py [--modes low high]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.isotonic import IsotonicRegression

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import emit  # noqa: E402
from triage.adapters.llm.evaluation import dataset_read  # noqa: E402
from triage.adapters.llm.language import CALIBRATION, SUPPORTED, detect_language  # noqa: E402
from triage.adapters.llm.learned import expected_calibration_error  # noqa: E402
from triage.adapters.llm.text_budget import language_sample  # noqa: E402

EVAL = ROOT / "tests" / "fixtures" / "eval"
EASY = ("helpdesk", "shop", "tickets")
HARD = ("helpdesk_hard", "shop_hard", "independent")
MIN_BLOCK = 50
CEILING = 0.99
CHANCE = round(1 / len(SUPPORTED), 3)

Table = list[tuple[float, float]]


def labelled(name: str) -> tuple[list[str], list[str]]:
    """(texts as the detector reads them, labelled languages) of one set."""
    rows = [row for row in dataset_read(EVAL / f"{name}.csv") if "language" in row.labels]
    return [language_sample(f"{r.subject}\n{r.body}") for r in rows], [r.labels["language"] for r in rows]


def derive_table(raw: np.ndarray, right: np.ndarray) -> Table:
    """The (raw share, calibrated) breakpoints: see the module docstring."""
    order = np.argsort(raw, kind="stable")
    raw, right = raw[order], right[order].astype(float)
    fitted = IsotonicRegression(out_of_bounds="clip", y_max=CEILING).fit_transform(raw, right)
    cuts = [0, *(np.flatnonzero(np.diff(fitted)) + 1).tolist(), len(raw)]
    blocks = [[start, end] for start, end in zip(cuts, cuts[1:], strict=False)]
    # pool a small step into the one above (the top one into the one below): the pooled accuracy
    # lies between the two, so the table stays monotone
    i = 0
    while i < len(blocks) and len(blocks) > 1:
        start, end = blocks[i]
        if end - start >= MIN_BLOCK:
            i += 1
            continue
        j = i + 1 if i + 1 < len(blocks) else i - 1
        low, high = min(i, j), max(i, j)
        blocks[low : high + 1] = [[blocks[low][0], blocks[high][1]]]
        i = low
    table: Table = [(CHANCE, CHANCE)]
    for k, (start, end) in enumerate(blocks):
        accuracy = round(min(float(right[start:end].mean()), CEILING), 3)
        # flat beyond the last breakpoint, so the top step needs only its first share
        shares = (raw[start],) if k == len(blocks) - 1 else (raw[start], raw[end - 1])
        for share in shares:
            if float(share) > table[-1][0]:
                table.append((round(float(share), 3), accuracy))
    return table


def apply(table: Table, raw: np.ndarray) -> np.ndarray:
    shares, accuracies = zip(*table, strict=True)
    return np.minimum(np.interp(raw, shares, accuracies), CEILING)


def run_mode(mode: str, sets: dict[str, tuple[list[str], list[str]]]) -> None:
    raw: dict[str, np.ndarray] = {}
    reported: dict[str, np.ndarray] = {}
    right: dict[str, np.ndarray] = {}
    for name, (texts, languages) in sets.items():
        raw_guesses = [detect_language(t, accuracy=mode, calibrated=False) for t in texts]
        raw[name] = np.array([confidence for _, confidence in raw_guesses])
        reported[name] = np.array([detect_language(t, accuracy=mode)[1] for t in texts])
        right[name] = np.array([code == lang for (code, _), lang in zip(raw_guesses, languages, strict=True)])

    def pool(names: Sequence[str], values: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate([values[n] for n in names])

    names = list(sets)
    table = derive_table(pool(names, raw), pool(names, right))
    emit(
        "language_calibration_breakpoints",
        len(table),
        "breakpoints",
        mode=mode,
        raw=[share for share, _ in table],
        calibrated=[accuracy for _, accuracy in table],
    )
    shares = np.array([share for share, _ in table])
    difference = np.abs(apply(list(CALIBRATION), shares) - apply(table, shares)).max()
    emit(
        "language_calibration_shipped_difference",
        float(difference),
        "confidence",
        "<= 0.02" if mode == "low" else None,
        mode=mode,
    )
    for name in [*names, "all"]:
        group = names if name == "all" else [name]
        hits = pool(group, right)
        emit("language_accuracy", float(hits.mean()), "fraction", mode=mode, set=name, tickets=len(hits))
        raw_ece = expected_calibration_error(pool(group, raw), hits)
        emit("language_ece_raw", raw_ece, "ece", mode=mode, set=name)
        ece = expected_calibration_error(pool(group, reported), hits)
        emit("language_ece_calibrated", ece, "ece", "<= 0.05", mode=mode, set=name)
    derived = expected_calibration_error(apply(table, pool(names, raw)), pool(names, right))
    emit("language_ece_derived", derived, "ece", mode=mode, set="all")
    for fit, scored in ((EASY, HARD), (HARD, EASY)):
        fit_raw, fit_right = pool(fit, raw), pool(fit, right)
        scored_raw, scored_right = pool(scored, raw), pool(scored, right)
        where = {"mode": mode, "fit": "+".join(fit), "scored": "+".join(scored)}
        emit("language_cross_ece_raw", expected_calibration_error(scored_raw, scored_right), "ece", **where)
        cross = apply(derive_table(fit_raw, fit_right), scored_raw)
        emit(
            "language_cross_ece_calibrated",
            expected_calibration_error(cross, scored_right),
            "ece",
            "<= 0.05",
            **where,
        )
        isotonic = IsotonicRegression(out_of_bounds="clip").fit(fit_raw, fit_right)
        fitted = np.minimum(isotonic.predict(scored_raw), CEILING)
        emit("language_cross_ece_isotonic", expected_calibration_error(fitted, scored_right), "ece", **where)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--modes", nargs="+", default=["low", "high"], choices=["low", "high"], help="lingua modes"
    )
    args = parser.parse_args()
    sets = {name: labelled(name) for name in (*EASY, *HARD)}
    for mode in args.modes:
        run_mode(mode, sets)


if __name__ == "__main__":
    main()
