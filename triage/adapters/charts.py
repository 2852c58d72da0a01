"""Server-rendered SVG charts: values in, an SVG string out. No JavaScript, nothing from a CDN;
every chart on the page also has its numbers in a table next to it."""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#84cc16", "#ec4899", "#64748b")
PAD_L, PAD_R, PAD_T, PAD_B = 44, 8, 10, 26


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _nice_max(value: float) -> float:
    """The smallest 1/2/2.5/5 x 10^k at or above `value` (so 0.0158 gets an axis up to 0.02)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return value


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.2g}"


def _frame(width: int, height: int, label: str, body: list[str], y_max: float, suffix: str) -> SafeString:
    plot_h = height - PAD_T - PAD_B
    grid = []
    for i in range(5):
        y = PAD_T + plot_h * i / 4
        value = y_max * (4 - i) / 4
        grid.append(
            f'<line x1="{PAD_L}" x2="{width - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{PAD_L - 4}" y="{y + 3:.1f}" class="tick" text-anchor="end">{_fmt(value)}{escape(suffix)}</text>'
        )
    return mark_safe(  # noqa: S308 - every label went through escape() above
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(grid)}{"".join(body)}</svg>'
    )


def _x_labels(
    labels: Sequence[str], width: int, height: int, always: frozenset[int] = frozenset()
) -> list[str]:
    """Every `step`-th label, plus the ones in `always` (the few days that have data on a sparse
    chart) when they do not collide with a shown neighbour."""
    n = len(labels)
    step = max(1, n // 10)
    slot = (width - PAD_L - PAD_R) / max(n, 1)
    shown = {i for i in range(n) if i % step == 0}
    for i in always:
        shown = {j for j in shown if abs(j - i) * slot >= 36} | {i}
    return [
        f'<text x="{PAD_L + slot * (i + 0.5):.1f}" y="{height - 8}" class="tick" text-anchor="middle">{escape(labels[i])}</text>'
        for i in sorted(shown)
    ]


SPARSE_MAX = 3  # at most this many bars with data: each gets its value and its day written out


def stacked_bars_svg(
    *,
    label: str,
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    width: int = 720,
    height: int = 220,
) -> SafeString:
    """One bar per x label, one coloured segment per series.

    A sparse chart (a 28-day range with data on one day) would be a thin sliver at one edge: its
    bars are drawn at least 12 px wide over a baseline, with their value above and their day below,
    so the one day reads as a day among empty ones."""
    n = len(x_labels)
    totals = [sum(values[i] for _, values in series) for i in range(n)]
    y_max = _nice_max(max(totals, default=0))
    plot_h = height - PAD_T - PAD_B
    slot = (width - PAD_L - PAD_R) / max(n, 1)
    with_data = frozenset(i for i, total in enumerate(totals) if total)
    sparse = 0 < len(with_data) <= SPARSE_MAX and n > len(with_data)
    bar_w = max(12.0 if sparse else 1.0, slot * 0.7)
    body = [
        f'<line x1="{PAD_L}" x2="{width - PAD_R}" y1="{PAD_T + plot_h}" y2="{PAD_T + plot_h}" class="axis"/>'
    ]
    if sparse:
        for i in sorted(with_data):
            x = min(max(PAD_L + slot * (i + 0.5), PAD_L + 14), width - PAD_R - 14)
            y_top = PAD_T + plot_h * (1 - totals[i] / y_max)
            body.append(
                f'<text x="{x:.1f}" y="{max(y_top - 4, PAD_T + 8):.1f}" class="tick value" '
                f'text-anchor="middle">{_fmt(totals[i])}</text>'
            )
    for i, x_label in enumerate(x_labels):
        y: float = PAD_T + plot_h
        for s, (name, values) in enumerate(series):
            if not values[i]:
                continue
            h = plot_h * values[i] / y_max
            y -= h
            body.append(
                f'<rect x="{PAD_L + slot * i + (slot - bar_w) / 2:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" fill="{color(s)}"><title>{escape(x_label)} · {escape(name)}: '
                f"{_fmt(values[i])}</title></rect>"
            )
    labels = _x_labels(x_labels, width, height, always=with_data if sparse else frozenset())
    return _frame(width, height, label, body + labels, y_max, "")


def lines_svg(
    *,
    label: str,
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    y_max: float | None = None,
    suffix: str = "",
    width: int = 720,
    height: int = 220,
) -> SafeString:
    """One polyline per series; None leaves a gap (a day without data)."""
    n = len(x_labels)
    top = y_max or _nice_max(max((v for _, vs in series for v in vs if v is not None), default=0))
    plot_h = height - PAD_T - PAD_B
    slot = (width - PAD_L - PAD_R) / max(n, 1)
    body = []
    for s, (name, values) in enumerate(series):
        points = []
        for i, value in enumerate(values):
            if value is None:
                continue
            x, y = PAD_L + slot * (i + 0.5), PAD_T + plot_h * (1 - value / top)
            points.append(f"{x:.1f},{y:.1f}")
            body.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color(s)}"><title>{escape(x_labels[i])} · '
                f"{escape(name)}: {_fmt(value)}{escape(suffix)}</title></circle>"
            )
        if len(points) > 1:
            body.insert(
                0, f'<polyline points="{" ".join(points)}" fill="none" stroke="{color(s)}" stroke-width="2"/>'
            )
    return _frame(width, height, label, body + _x_labels(x_labels, width, height), top, suffix)


def _text_w(text: str) -> float:
    """A generous width for a 10px tick label (about 0.62 em a character), so nothing is clipped."""
    return 6.2 * len(text)


def hbars_svg(
    *, label: str, items: Sequence[tuple[str, float]], width: int = 360, row_h: int = 22
) -> SafeString:
    """Horizontal bars, one per item, the value written at the end of the bar. The name column and
    the room after the longest bar are measured from the labels, so long names are not clipped."""
    height = max(row_h * len(items), row_h) + 4
    top = max((v for _, v in items), default=0) or 1
    name_w = max(60.0, max((_text_w(name) for name, _ in items), default=0) + 10)
    value_w = max(30.0, max((_text_w(_fmt(v)) for _, v in items), default=0) + 8)
    width = max(width, int(name_w + value_w + 120))
    plot_w = width - name_w - value_w
    body = []
    for i, (name, value) in enumerate(items):
        y = 2 + i * row_h
        w = plot_w * value / top
        body.append(
            f'<text x="{name_w - 6:.1f}" y="{y + row_h * 0.65:.1f}" class="tick" text-anchor="end">{escape(name)}</text>'
            f'<rect x="{name_w:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{color(i)}">'
            f"<title>{escape(name)}: {_fmt(value)}</title></rect>"
            f'<text x="{name_w + w + 4:.1f}" y="{y + row_h * 0.65:.1f}" class="tick">{_fmt(value)}</text>'
        )
    return mark_safe(  # noqa: S308 - labels escaped above
        f'<svg class="chart chart-h" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(body)}</svg>'
    )
