"""Every benchmark starts as `python bench/NAME.py` (argument parsing is enough to prove its imports
resolve: bench/queue.py shares its name with the standard library's `queue`, which the other
scripts' libraries import)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


# bench/_harness.py is the scripts' shared module, not a script
@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("*.py") if not p.name.startswith("_")))
def test_the_benchmark_starts_and_explains_its_options(script: str) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout


@pytest.mark.services
@pytest.mark.browser
def test_the_review_flow_benchmark_reviews_a_view_from_the_keyboard_within_the_keystroke_goals() -> None:
    """bench/review_flow.py end to end with two tickets: one accepted, one corrected, each checked in
    its database by the script; its keystroke figures must meet their goals (timings vary, and
    benchmarks' timings are never pass/fail)."""
    redis_db = os.environ.get("TRIAGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/13").rsplit("/", 1)[-1]
    done = subprocess.run(
        [sys.executable, str(BENCH / "review_flow.py"), "--tickets", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TRIAGE_BENCH_REDIS_DB": redis_db},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = {row["metric"]: row for row in map(json.loads, done.stdout.splitlines())}
    assert figures["review_keystrokes_per_ticket_accepted"]["value"] <= 2
    assert figures["review_keystrokes_per_ticket_one_field_corrected"]["value"] <= 6
    assert figures["review_decision_to_next_shown_p95_ms"]["samples"] == 2


def test_the_type_bound_reads_the_generators_own_rows_and_notes_which_carry_a_type_cue() -> None:
    """bench/type_bound.py notes, while the generator writes a hard set, whether each ticket's frame
    came from its type's pool. Noting it must not change the rows (the same random draws), and about
    90% of the tickets carry a cue (make_sets.HARD's type_cue, plus a type word in some subjects)."""
    sys.path.insert(0, str(BENCH.parent))
    from bench import type_bound

    generator = type_bound._generator()
    original = generator._ticket_hard
    plain = generator.make_set(**{**generator.SETS["shop_hard"], "seed": 7, "rows": 600})

    features, labels, ceiling = type_bound._rows(generator, "shop_hard", 7, 600)

    assert generator._ticket_hard is original
    assert list(labels) == [row["category"] for row in plain]
    kinds = len(generator.SETS["shop_hard"]["types"])
    uncued = features[:, kinds]
    assert 0.85 <= 1.0 - uncued.mean() <= 0.95
    # an uncued row is told no type; a cued one exactly one
    assert (features[:, :kinds].sum(axis=1) == 1.0 - uncued).all()
    assert 0.7 < ceiling < 0.95
