"""The labelled evaluation sets: reproducible from their generator, and as hard as they claim."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
from collections import Counter
from pathlib import Path

import pytest

EVAL = Path(__file__).resolve().parent / "fixtures" / "eval"


def _generator():  # noqa: ANN202 - a module loaded from a file
    spec = importlib.util.spec_from_file_location("make_sets", EVAL / "make_sets.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.mark.parametrize("name", ["helpdesk", "shop", "helpdesk_hard", "shop_hard"])
def test_the_shipped_set_is_what_its_generator_writes(name):
    generator = _generator()
    clean: list[dict[str, str]] = []
    rows = generator.make_set(clean=clean, **generator.SETS[name])
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=["subject", "body", "category", "priority", "queue", "language"])
    writer.writeheader()
    writer.writerows(rows)
    assert out.getvalue() == (EVAL / f"{name}.csv").read_bytes().decode("utf-8")
    taxonomy = json.loads((EVAL / f"{name}_taxonomy.json").read_text(encoding="utf-8"))
    assert taxonomy == generator.TAXONOMIES[name]

    queues = Counter(r["queue"] for r in rows)
    assert len(queues) >= 10
    assert max(queues.values()) >= 20 * min(queues.values())
    assert len({r["language"] for r in rows}) == 2
    for field in ("category", "priority", "queue"):
        wrong = sum(r[field] != c[field] for r, c in zip(rows, clean, strict=True)) / len(rows)
        assert wrong >= 0.10, (field, wrong)
    # varied phrasing: nearly every body is unique
    assert len({r["body"] for r in rows}) >= 0.95 * len(rows)


def test_the_hard_sets_differ_from_the_easy_ones_only_by_their_knobs():
    """The hard sets reuse the easy sets' phrase pools and taxonomies; only seed, size and HARD differ."""
    generator = _generator()
    for name in ("helpdesk", "shop"):
        easy, hard = generator.SETS[name], generator.SETS[f"{name}_hard"]
        same = ("topics", "types", "langs", "lang_share", "type_weights", "high_bias")
        assert {k: hard[k] for k in same} == {k: easy[k] for k in same}
        assert "hard" not in easy
        assert hard["hard"] is generator.HARD
        assert generator.TAXONOMIES[f"{name}_hard"] is generator.TAXONOMIES[name]
    assert generator.HARD["noise"] >= 0.10
