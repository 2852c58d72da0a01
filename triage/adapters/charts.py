"""Server-rendered SVG charts: values in, an SVG string out. No JavaScript, nothing from a CDN;
every chart on the page also has its numbers in a table next to it.

An SVG scales with its card, its text too: a 720-unit chart in a phone's 300 px card drew its labels
at 4 px. So each chart is drawn twice (`responsive`): a wide rendering whose font is sized for a
card at least WIDE_MIN px wide, and a narrow one, NARROW_WIDTH units wide, drawn at about 1:1 on a
phone, with fewer day labels and horizontal bars' names above their bars. reports.css shows the one
that fits its card (a container query at WIDE_MIN); the other is display:none, out of the
accessibility tree too."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#84cc16", "#ec4899", "#64748b")
PAD_R, PAD_T = 8, 10
WIDE_MIN = 520  # the narrowest card showing the wide rendering: reports.css's @container rule
NARROW_WIDTH, NARROW_HEIGHT, NARROW_FONT = 300, 200, 11.0
# the longest bar name written whole ("Triaged → reviewed, median", a queue or category label)
HBAR_NAME_CHARS = 28
CHAR_EM = 0.65  # a generous width of one character in ems (DejaVu Sans digits are 0.636)


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _fill(colors: Sequence[str] | None, index: int) -> str:
    return colors[index] if colors is not None and index < len(colors) else color(index)


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


def _text_w(text: str, font: float = 10.0) -> float:
    """A generous width for a label at `font` units, so nothing is clipped."""
    return CHAR_EM * font * len(text)


def _font(width: int, narrow: bool) -> float:
    """The font in viewBox units that renders at 10 CSS px or more wherever this rendering is shown:
    the wide one is scaled down to WIDE_MIN px at the least, the narrow one is drawn at about 1:1."""
    if narrow:
        return NARROW_FONT
    return max(10.0, math.ceil(20 * width / WIDE_MIN) / 2)


def _ticks(y_max: float, suffix: str) -> list[str]:
    return [f"{_fmt(y_max * (4 - i) / 4)}{suffix}" for i in range(5)]


def _pad_l(y_max: float, suffix: str, font: float) -> float:
    return max(_text_w(t, font) for t in _ticks(y_max, suffix)) + 8


def _svg(css: str, width: float, height: float, font: float, label: str, body: str) -> SafeString:
    return mark_safe(  # noqa: S308 - every label went through escape() before it reached `body`
        f'<svg class="{css}" viewBox="0 0 {width:g} {height:g}" font-size="{font:g}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">{body}</svg>'
    )


def _frame(
    *,
    width: int,
    height: int,
    label: str,
    body: list[str],
    y_max: float,
    suffix: str,
    font: float,
    pad_l: float,
    pad_b: float,
    narrow: bool,
) -> SafeString:
    plot_h = height - PAD_T - pad_b
    grid = []
    for i, tick in enumerate(_ticks(y_max, suffix)):
        y = PAD_T + plot_h * i / 4
        grid.append(
            f'<line x1="{pad_l:.1f}" x2="{width - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{pad_l - 4:.1f}" y="{y + 0.3 * font:.1f}" class="tick" text-anchor="end">{escape(tick)}</text>'
        )
    css = "chart chart-narrow" if narrow else "chart chart-wide"
    return _svg(css, width, height, font, label, "".join(grid) + "".join(body))


def _x_rows(labels: Sequence[str], slot: float, font: float, every: bool) -> int:
    """Names (every label shown) that do not fit side by side take two staggered rows."""
    need = max((_text_w(s, font) for s in labels), default=0) + font
    return 2 if every and need > slot else 1


def _x_labels(
    labels: Sequence[str],
    *,
    width: int,
    height: int,
    pad_l: float,
    font: float,
    rows: int = 1,
    always: frozenset[int] = frozenset(),
) -> list[str]:
    """The labels that fit without touching a shown neighbour: first the ones in `always` (the few
    days that have data on a sparse chart), then every other one in order. Each is kept inside the
    chart's edges. With two rows, odd labels sit on the lower one and every label is shown."""
    n = len(labels)
    slot = (width - pad_l - PAD_R) / max(n, 1)
    gap = font * 0.6

    def x(i: int) -> float:
        half = _text_w(labels[i], font) / 2 + 1
        return min(max(pad_l + slot * (i + 0.5), half), width - half)

    kept: list[int] = []
    for i in [*sorted(always), *(j for j in range(n) if j not in always)]:
        if rows > 1 or all(
            abs(x(i) - x(j)) >= (_text_w(labels[i], font) + _text_w(labels[j], font)) / 2 + gap for j in kept
        ):
            kept.append(i)
    line = 1.2 * font
    return [
        f'<text x="{x(i):.1f}" y="{height - 0.35 * font - (rows - 1 - i % rows) * line:.1f}" class="tick" '
        f'text-anchor="middle">{escape(labels[i])}</text>'
        for i in sorted(kept)
    ]


SPARSE_MAX = 3  # at most this many bars with data: each gets its value and its day written out


def stacked_bars_svg(
    *,
    label: str,
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    width: int = 720,
    height: int = 220,
    names: bool = False,
    narrow: bool = False,
) -> SafeString:
    """One bar per x label, one coloured segment per series. With `names` the x labels are names
    (fields), each of them shown; otherwise they are days, as many shown as fit.

    A sparse chart (a 28-day range with data on one day) would be a thin sliver at one edge: its
    bars are drawn at least 12 px wide over a baseline, with their value above and their day below,
    so the one day reads as a day among empty ones."""
    if narrow:
        width, height = NARROW_WIDTH, NARROW_HEIGHT
    font = _font(width, narrow)
    n = len(x_labels)
    totals = [sum(values[i] for _, values in series) for i in range(n)]
    with_data = frozenset(i for i, total in enumerate(totals) if total)
    sparse = 0 < len(with_data) <= SPARSE_MAX and n > len(with_data)
    # a sparse chart's values are written above their bars: room for them under the axis's top
    y_max = _nice_max(max(totals, default=0) * (1.25 if sparse else 1))
    pad_l = _pad_l(y_max, "", font)
    slot = (width - pad_l - PAD_R) / max(n, 1)
    rows = _x_rows(x_labels, slot, font, names)
    pad_b = 2 * font + 2 + (rows - 1) * 1.2 * font
    plot_h = height - PAD_T - pad_b
    bar_w = max(12.0 if sparse else 1.0, slot * 0.7)
    body = [
        f'<line x1="{pad_l:.1f}" x2="{width - PAD_R}" y1="{PAD_T + plot_h:.1f}" y2="{PAD_T + plot_h:.1f}" class="axis"/>'
    ]
    if sparse:
        last_right = -math.inf
        for i in sorted(with_data):
            half = _text_w(_fmt(totals[i]), font) / 2 + 2
            x = min(max(pad_l + slot * (i + 0.5), pad_l + max(half, 14)), width - PAD_R - max(half, 14))
            if x - half < last_right:  # the next day's value would overwrite this one: its bar's title has it
                continue
            last_right = x + half
            y_top = PAD_T + plot_h * (1 - totals[i] / y_max)
            body.append(
                f'<text x="{x:.1f}" y="{max(y_top - 4, PAD_T + 0.8 * font):.1f}" class="tick value" '
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
                f'<rect x="{pad_l + slot * i + (slot - bar_w) / 2:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" fill="{color(s)}"><title>{escape(x_label)} · {escape(name)}: '
                f"{_fmt(values[i])}</title></rect>"
            )
    labels = _x_labels(
        x_labels,
        width=width,
        height=height,
        pad_l=pad_l,
        font=font,
        rows=rows,
        always=with_data if sparse else frozenset(),
    )
    return _frame(
        width=width,
        height=height,
        label=label,
        body=body + labels,
        y_max=y_max,
        suffix="",
        font=font,
        pad_l=pad_l,
        pad_b=pad_b,
        narrow=narrow,
    )


def lines_svg(
    *,
    label: str,
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    y_max: float | None = None,
    suffix: str = "",
    width: int = 720,
    height: int = 220,
    narrow: bool = False,
) -> SafeString:
    """One polyline per series; None leaves a gap (a day without data)."""
    if narrow:
        width, height = NARROW_WIDTH, NARROW_HEIGHT
    font = _font(width, narrow)
    n = len(x_labels)
    top = y_max or _nice_max(max((v for _, vs in series for v in vs if v is not None), default=0))
    pad_l = _pad_l(top, suffix, font)
    pad_b = 2 * font + 2
    plot_h = height - PAD_T - pad_b
    slot = (width - pad_l - PAD_R) / max(n, 1)
    body = []
    for s, (name, values) in enumerate(series):
        points = []
        for i, value in enumerate(values):
            if value is None:
                continue
            x, y = pad_l + slot * (i + 0.5), PAD_T + plot_h * (1 - value / top)
            points.append(f"{x:.1f},{y:.1f}")
            body.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color(s)}"><title>{escape(x_labels[i])} · '
                f"{escape(name)}: {_fmt(value)}{escape(suffix)}</title></circle>"
            )
        if len(points) > 1:
            body.insert(
                0, f'<polyline points="{" ".join(points)}" fill="none" stroke="{color(s)}" stroke-width="2"/>'
            )
    labels = _x_labels(x_labels, width=width, height=height, pad_l=pad_l, font=font)
    return _frame(
        width=width,
        height=height,
        label=label,
        body=body + labels,
        y_max=top,
        suffix=suffix,
        font=font,
        pad_l=pad_l,
        pad_b=pad_b,
        narrow=narrow,
    )


def _fit(text: str, room: float, font: float) -> str:
    """`text`, cut with an ellipsis to fit `room` units (the bar's title and the table keep it whole)."""
    chars = max(1, int(room / (CHAR_EM * font)))
    return text if len(text) <= chars else text[: chars - 1] + "…"


def hbars_svg(
    *,
    label: str,
    items: Sequence[tuple[str, float]],
    width: int = 360,
    row_h: int = 22,
    narrow: bool = False,
    value_text: Callable[[float], str] = _fmt,
    colors: Sequence[str] | None = None,
) -> SafeString:
    """Horizontal bars, one per item, the value written at the end of the bar. `value_text` writes
    it (e.g. a duration with its unit); `colors` gives one per item, else the palette's. The name
    column (up to HBAR_NAME_CHARS; a longer name is cut with an ellipsis, whole in its tooltip) and
    the room after the longest bar are measured from the labels, so names are not clipped. Narrow,
    each name is written above its bar, which then has the chart's whole width."""
    top = max((v for _, v in items), default=0) or 1
    if narrow:
        return _hbars_stacked(label=label, items=items, top=top, value_text=value_text, colors=colors)
    height = max(row_h * len(items), row_h) + 4
    # Names are measured, up to HBAR_NAME_CHARS: a longer one is cut with an ellipsis (whole in its
    # tooltip) rather than squeezing every bar into what is left of the card.
    name_w = max(
        60.0, min(max((_text_w(name) for name, _ in items), default=0), _text_w("x" * HBAR_NAME_CHARS)) + 10
    )
    value_w = max(30.0, max((_text_w(value_text(v)) for _, v in items), default=0) + 8)
    width = max(width, int(name_w + value_w + 120))
    plot_w = width - name_w - value_w
    body = []
    for i, (name, value) in enumerate(items):
        y = 2 + i * row_h
        w = plot_w * value / top
        body.append(
            f'<text x="{name_w - 6:.1f}" y="{y + row_h * 0.65:.1f}" class="tick" text-anchor="end">'
            f"{escape(_fit(name, name_w - 9, 10.0))}<title>{escape(name)}</title></text>"
            f'<rect x="{name_w:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{_fill(colors, i)}">'
            f"<title>{escape(name)}: {escape(value_text(value))}</title></rect>"
            f'<text x="{name_w + w + 4:.1f}" y="{y + row_h * 0.65:.1f}" class="tick">{escape(value_text(value))}</text>'
        )
    return _svg("chart chart-h chart-wide", width, height, _font(width, False), label, "".join(body))


def _hbars_stacked(
    *,
    label: str,
    items: Sequence[tuple[str, float]],
    top: float,
    value_text: Callable[[float], str],
    colors: Sequence[str] | None,
) -> SafeString:
    width, font, bar_h = NARROW_WIDTH, NARROW_FONT, 12.0
    row_h = 1.3 * font + bar_h + 8
    value_w = max((_text_w(value_text(v), font) for _, v in items), default=0) + 8
    plot_w = width - value_w - 2
    body = []
    for i, (name, value) in enumerate(items):
        y = 2 + i * row_h
        w = plot_w * value / top
        bar_y = y + 1.3 * font
        body.append(
            f'<text x="2" y="{y + 0.95 * font:.1f}" class="tick">{escape(_fit(name, width - 4, font))}</text>'
            f'<rect x="0" y="{bar_y:.1f}" width="{w:.1f}" height="{bar_h:g}" fill="{_fill(colors, i)}">'
            f"<title>{escape(name)}: {escape(value_text(value))}</title></rect>"
            f'<text x="{w + 4:.1f}" y="{bar_y + bar_h / 2 + 0.35 * font:.1f}" class="tick">{escape(value_text(value))}</text>'
        )
    height = max(row_h * len(items), row_h) + 4
    return _svg("chart chart-h chart-narrow", width, height, font, label, "".join(body))


def responsive(render: Callable[..., SafeString], /, **kwargs: Any) -> SafeString:
    """Both renderings of one chart, the wide and the narrow; reports.css shows the one that fits."""
    return mark_safe(  # noqa: S308 - both renderings escaped their labels
        f'<div class="chart-pair">{render(**kwargs)}{render(**kwargs, narrow=True)}</div>'
    )
