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


def test_horizontal_bar_names_get_room_for_their_length():
    long_name = "Triaged → reviewed, median"
    svg = charts.hbars_svg(label="t", items=[(long_name, 12.5), ("x", 3)])
    name_w = float(re.search(r'<rect x="([\d.]+)"', svg).group(1))
    assert name_w >= 6 * len(long_name)  # the right-aligned name starts inside the viewBox
    width = float(re.search(r'viewBox="0 0 ([\d.]+)', svg).group(1))
    value_x = max(float(x) for x in re.findall(r'<text x="([\d.]+)" y="[\d.]+" class="tick">', svg))
    assert value_x + 6 * len("12.5") <= width


def test_one_day_of_data_in_28_is_a_visible_bar_with_its_value_and_day():
    days = [f"11-{d:02d}" for d in range(1, 29)]
    values = [0] * 27 + [7]
    svg = charts.stacked_bars_svg(label="t", x_labels=days, series=[("web", values)])
    (bar_w,) = (float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', svg))
    assert bar_w >= 12
    assert 'class="tick value"' in svg and ">7</text>" in svg
    assert ">11-28</text>" in svg  # the day with data is labelled even off the every-3rd-day grid
    assert 'class="axis"' in svg


def test_dense_charts_keep_the_plain_look():
    svg = charts.stacked_bars_svg(label="t", x_labels=["a", "b", "c", "d"], series=[("s", [1, 2, 3, 4])])
    assert 'class="tick value"' not in svg
