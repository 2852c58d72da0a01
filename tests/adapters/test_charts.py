"""SVG charts: geometry follows the numbers, and labels are escaped."""

from __future__ import annotations

import re

from triage.adapters import charts


def heights(svg: str) -> list[float]:
    return [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]


def test_stacked_bars_scale_to_the_tallest_total():
    svg = charts.stacked_bars_svg(
        label="Tickets", x_labels=["a", "b"], series=[("web", [3, 1]), ("email", [2, 0])], height=226
    )
    # plot height 226 - 10 - 26 = 190 px; axis max 5 (3+2): 1 ticket = 38 px
    assert heights(svg) == [114.0, 76.0, 38.0]
    assert svg.count("<title>") == 3 and "b · web: 1" in svg


def test_axis_max_rounds_up_to_a_nice_number_even_below_one():
    assert charts._nice_max(0.0158) == 0.02
    assert charts._nice_max(7) == 10 and charts._nice_max(130) == 200 and charts._nice_max(0) == 1.0


def test_labels_are_escaped():
    svg = charts.hbars_svg(label="<x>", items=[("<script>alert(1)</script>", 3)])
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_lines_leave_gaps_for_missing_days():
    svg = charts.lines_svg(label="rate", x_labels=["a", "b", "c"], series=[("s", [50, None, 100])], y_max=100)
    assert svg.count("<circle") == 2
