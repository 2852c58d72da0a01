"""SVG charts: geometry follows the numbers, and labels are escaped."""

from __future__ import annotations

import re

from triage.adapters import charts


def heights(svg: str) -> list[float]:
    return [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]


def test_stacked_bars_scale_to_the_tallest_total():
    svg = charts.stacked_bars_svg(
        label="Tickets", x_labels=["a", "b"], series=[("web", [3, 1]), ("email", [2, 0])], height=230
    )
    # plot height 230 - 10 - 30 (the day labels' room at 14 units) = 190 px; axis max 5: 1 ticket = 38 px
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


def test_a_very_long_bar_name_is_cut_and_whole_in_its_tooltip_so_the_bars_keep_their_room():
    long_name = "Enterprise customers in the DACH region – billing disputes and refunds (escalated)"
    svg = charts.hbars_svg(label="t", items=[(long_name, 12.5), ("Tier 1 support", 3)])
    name_w = float(re.search(r'<rect x="([\d.]+)"', svg).group(1))
    width = float(re.search(r'viewBox="0 0 ([\d.]+)', svg).group(1))
    assert width - name_w >= 0.45 * width  # the bars get at least ~half the chart
    names = re.findall(r'text-anchor="end">([^<]*)<title>([^<]*)</title>', svg)
    assert names[0][0].endswith("…") and len(names[0][0]) <= charts.HBAR_NAME_CHARS
    assert names[0][1] == long_name  # whole in the tooltip
    assert names[1] == ("Tier 1 support", "Tier 1 support")  # a short name is written whole


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


def texts(svg: str) -> list[tuple[float, float, str]]:
    return [
        (float(x), float(y), t)
        for x, y, t in re.findall(r'<text x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)</text>', svg)
    ]


def font(svg: str) -> float:
    return float(re.search(r'font-size="([\d.]+)"', svg).group(1))


def test_the_wide_rendering_writes_10px_text_in_the_narrowest_card_that_shows_it():
    for width in (720, 480):
        svg = charts.stacked_bars_svg(label="t", x_labels=["a"], series=[("s", [1])], width=width)
        assert 'class="chart chart-wide"' in svg
        assert font(svg) * min(1, charts.WIDE_MIN / width) >= 10


def test_a_narrow_28_day_chart_shows_fewer_days_inside_its_box_without_overlap():
    days = [f"11-{d:02d}" for d in range(1, 29)]
    svg = charts.stacked_bars_svg(label="t", x_labels=days, series=[("web", [0] * 27 + [12])], narrow=True)
    assert 'viewBox="0 0 300 200"' in svg and font(svg) == charts.NARROW_FONT
    labels = [(x, t) for x, y, t in texts(svg) if t in days]
    assert 4 <= len(labels) < 10 and ("11-28" in [t for _, t in labels])  # the day with data, too
    half = charts._text_w("11-28", charts.NARROW_FONT) / 2
    xs = sorted(x for x, _ in labels)
    assert xs[0] - half >= 0 and xs[-1] + half <= 300
    assert all(b - a >= 2 * half for a, b in zip(xs, xs[1:], strict=False))


def test_two_adjacent_days_write_one_value_when_both_would_overlap():
    days = [f"11-{d:02d}" for d in range(1, 29)]
    svg = charts.stacked_bars_svg(
        label="t", x_labels=days, series=[("web", [0] * 26 + [12, 13])], narrow=True
    )
    assert svg.count('class="tick value"') == 1
    wide = charts.stacked_bars_svg(label="t", x_labels=days, series=[("web", [0] * 26 + [12, 13])])
    assert wide.count('class="tick value"') == 2  # room for both at 720 units


def test_narrow_field_names_are_all_written_on_two_staggered_rows():
    fields = ["category", "priority", "queue", "sentiment", "language"]
    svg = charts.stacked_bars_svg(
        label="t", x_labels=fields, series=[("s", [1, 2, 3, 4, 5])], names=True, narrow=True
    )
    named = {t: y for _, y, t in texts(svg) if t in fields}
    assert set(named) == set(fields)
    assert named["category"] == named["queue"] < named["priority"] == named["sentiment"]


def test_narrow_horizontal_bars_write_each_name_above_its_bar():
    long_name = "Triaged → reviewed, median and a good deal more text than fits"
    svg = charts.hbars_svg(label="t", items=[(long_name, 12.5), ("x", 3)], narrow=True)
    assert "chart-narrow" in svg and 'viewBox="0 0 300 ' in svg
    bar_ys = [float(y) for y in re.findall(r'<rect x="0" y="([\d.]+)"', svg)]
    name_ys = [y for _, y, t in texts(svg) if t.startswith(("Triaged", "x"))]
    assert all(n < b for n, b in zip(name_ys, bar_ys, strict=True))
    cut = next(t for _, _, t in texts(svg) if t.startswith("Triaged"))
    assert cut.endswith("…") and charts._text_w(cut, charts.NARROW_FONT) <= 300
    assert f"<title>{long_name}: 12</title>" in svg  # whole in the bar's tooltip


def test_responsive_holds_the_wide_and_the_narrow_rendering_each_an_image():
    pair = charts.responsive(charts.lines_svg, label="rate", x_labels=["a", "b"], series=[("s", [1, 2])])
    assert pair.startswith('<div class="chart-pair">')
    assert pair.count('role="img" aria-label="rate"') == 2
    assert "chart-wide" in pair and "chart-narrow" in pair
