"""The labelled evaluation sets: reproducible from their generator, and as hard as they claim."""

from __future__ import annotations

import csv
import importlib.util
import io
from collections import Counter
from pathlib import Path

import pytest

EVAL = Path(__file__).resolve().parent / "fixtures" / "eval"


def _generator():  # noqa: ANN202 - a module loaded from a file
    spec = importlib.util.spec_from_file_location("make_sets", EVAL / "make_sets.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.mark.parametrize("name", ["helpdesk", "shop"])
def test_the_shipped_set_is_what_its_generator_writes(name):
    generator = _generator()
    clean: list[dict[str, str]] = []
    rows = generator.make_set(clean=clean, **generator.SETS[name])
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=["subject", "body", "category", "priority", "queue", "language"])
    writer.writeheader()
    writer.writerows(rows)
    assert out.getvalue() == (EVAL / f"{name}.csv").read_bytes().decode("utf-8")

    queues = Counter(r["queue"] for r in rows)
    assert len(queues) >= 10
    assert max(queues.values()) >= 20 * min(queues.values())
    assert len({r["language"] for r in rows}) == 2
    for field in ("category", "priority", "queue"):
        wrong = sum(r[field] != c[field] for r, c in zip(rows, clean, strict=True)) / len(rows)
        assert wrong >= 0.10, (field, wrong)
    # varied phrasing: nearly every body is unique
    assert len({r["body"] for r in rows}) >= 0.95 * len(rows)
