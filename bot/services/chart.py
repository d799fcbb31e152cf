"""Scores over time as small SVG line charts: black on white, so legible in greyscale, and described in words.

Drawn here rather than with a charting library: the console's Content-Security-Policy allows no inline
styles or scripts, and the usual libraries (pygal, for one) put a <style> block and tooltip script in
every SVG. One line of a few points on a fixed scale needs nothing more than this.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from markupsafe import Markup

WIDTH, HEIGHT = 260, 124
LEFT, RIGHT, TOP, BOTTOM = 26, 8, 18, 26  # room for the scale on the left and dates below
PAD = 14  # keeps the first and last points (and their values) clear of the edges
INK, GRID, MUTED = "#1b1b1b", "#bbbbbb", "#555555"  # greys only: the chart reads the same in greyscale
FONT = 'font-family="system-ui, sans-serif" font-size="12"'
MAX_VALUE_LABELS = 12  # values written on the chart, newest first; the table below has them all
MIN_LABEL_GAP = 22  # closer than this to the next written value, a point's value is left to the table


def _labelled(xs: list[float]) -> set[int]:
    """Choose which points get their value written: the newest, and any not crowding the one after."""
    chosen: set[int] = set()
    last_x = None
    for i in reversed(range(len(xs))):
        if len(chosen) >= MAX_VALUE_LABELS:
            break
        if last_x is None or last_x - xs[i] >= MIN_LABEL_GAP:
            chosen.add(i)
            last_x = xs[i]
    return chosen


@dataclass(frozen=True)
class Point:
    at: datetime
    value: float


def number(value: float) -> str:
    """Write a score without a needless decimal: 7, 6.5, 6.75."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def describe(title: str, points: Sequence[Point], low: float, high: float, higher_is_better: bool, tz: ZoneInfo) -> str:
    """Say in words what the chart shows, for screen readers."""
    better = "higher is better" if higher_is_better else "lower is better"
    values = ", ".join(f"{number(p.value)} on {p.at.astimezone(tz):%-d %b %Y}" for p in points)
    return f"{title}, from {number(low)} to {number(high)}, {better}: {values}."


def line_chart(
    chart_id: str,
    title: str,
    points: Sequence[Point],
    *,
    low: float,
    high: float,
    higher_is_better: bool = True,
    tz: ZoneInfo,
) -> Markup:
    """Draw one score over time on its whole scale, each point marked and its value written beside it."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    span = (high - low) or 1

    def y(value: float) -> float:
        return TOP + plot_h * (1 - (value - low) / span)

    times = [p.at.timestamp() for p in points]
    first, last = (min(times), max(times)) if times else (0.0, 0.0)

    def x(index: int) -> float:
        inner = plot_w - 2 * PAD
        if len(points) == 1:
            return LEFT + plot_w / 2
        if last == first:
            return LEFT + PAD + inner * index / (len(points) - 1)
        return LEFT + PAD + inner * (times[index] - first) / (last - first)

    ids = f'{escape(chart_id)}-title {escape(chart_id)}-desc'
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
        f'role="img" aria-labelledby="{ids}" class="chart" id="{escape(chart_id)}">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(describe(title, points, low, high, higher_is_better, tz))}</desc>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
    ]
    middle = low + span / 2
    for mark in (low, middle, high):
        dash = "" if mark in (low, high) else ' stroke-dasharray="3 3"'
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(mark):.1f}" y2="{y(mark):.1f}" stroke="{GRID}" '
            f'stroke-width="1"{dash}/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(mark) + 4:.1f}" text-anchor="end" fill="{MUTED}" {FONT}>{number(mark)}</text>'
        )
    if len(points) > 1:
        path = " ".join(f"{x(i):.1f},{y(p.value):.1f}" for i, p in enumerate(points))
        parts.append(f'<polyline points="{path}" fill="none" stroke="{INK}" stroke-width="2" stroke-linejoin="round"/>')
    labelled = _labelled([x(i) for i in range(len(points))])
    for i, point in enumerate(points):
        cx, cy = x(i), y(point.value)
        parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4" fill="{INK}" stroke="#ffffff" stroke-width="1.5"/>')
        if i in labelled:
            above = cy - 8 if cy - 8 > TOP - 4 else cy + 16
            parts.append(
                f'<text x="{cx:.1f}" y="{above:.1f}" text-anchor="middle" fill="{INK}" font-weight="700" {FONT}>'
                f"{number(point.value)}</text>"
            )
    for i in sorted({0, len(points) - 1}) if points else []:
        anchor, at = ("middle", x(i)) if len(points) == 1 else (("start", LEFT) if i == 0 else ("end", WIDTH - RIGHT))
        when = points[i].at.astimezone(tz)
        parts.append(
            f'<text x="{at:.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}" fill="{MUTED}" {FONT}>{when:%-d %b %Y}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _nice_top(value: float) -> float:
    """Round a scale's top up to 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1.0
    power = 10 ** len(str(int(value))) / 10 if value >= 1 else 1.0
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return value


def weekly_chart(chart_id: str, title: str, labels: Sequence[str], values: Sequence[float | None], written: Sequence[str]) -> Markup:
    """Draw a figure week by week from 0: a line through the weeks that have a value, each point's value written."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = _nice_top(max((v for v in values if v is not None), default=0.0))

    def x(i: int) -> float:
        return LEFT + plot_w / 2 if len(values) == 1 else LEFT + PAD + (plot_w - 2 * PAD) * i / (len(values) - 1)

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value / top)

    said = ", ".join(f"{label}: {text}" for label, text in zip(labels, written, strict=True))
    cid = escape(chart_id)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-labelledby="{cid}-title {cid}-desc" class="chart" id="{cid}">',
        f'<title id="{cid}-title">{escape(title)}</title><desc id="{cid}-desc">{escape(title)}, week by week: {escape(said)}.</desc>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
    ]
    for mark in (0.0, top):
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(mark):.1f}" y2="{y(mark):.1f}" stroke="{GRID}" stroke-width="1"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y(mark) + 4:.1f}" text-anchor="end" fill="{MUTED}" {FONT}>{number(mark)}</text>')
    run: list[str] = []
    for i, value in enumerate([*values, None]):
        if value is not None:
            run.append(f"{x(i):.1f},{y(value):.1f}")
            continue
        if len(run) > 1:  # a week with no value breaks the line rather than pretending it was 0
            parts.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{INK}" stroke-width="2" stroke-linejoin="round"/>')
        run = []
    xs = [x(i) for i in range(len(values))]
    labelled = _labelled(xs)
    for i, value in enumerate(values):
        if value is None:
            continue
        parts.append(f'<circle cx="{xs[i]:.1f}" cy="{y(value):.1f}" r="3.5" fill="{INK}" stroke="#ffffff" stroke-width="1.5"/>')
        if i in labelled:
            above = y(value) - 8 if y(value) - 8 > TOP - 4 else y(value) + 16
            parts.append(f'<text x="{xs[i]:.1f}" y="{above:.1f}" text-anchor="middle" fill="{INK}" font-weight="700" {FONT}>{escape(written[i])}</text>')
    for i in sorted({0, len(values) - 1}) if values else []:
        anchor = "middle" if len(values) == 1 else ("start" if i == 0 else "end")
        at = xs[i] if len(values) == 1 else (LEFT if i == 0 else WIDTH - RIGHT)
        parts.append(f'<text x="{at:.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}" fill="{MUTED}" {FONT}>{escape(labels[i])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(chart_id: str, title: str, rows: Sequence[tuple[str, float]]) -> Markup:
    """Draw a breakdown as horizontal bars in one grey, each with its label and value written."""
    bar, gap, label_w, width = 18, 8, 150, 420
    height = max(1, len(rows)) * (bar + gap) + gap
    top = max((v for _, v in rows), default=0.0) or 1.0
    said = ", ".join(f"{label}: {number(value)}" for label, value in rows) or "none"
    cid = escape(chart_id)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="{cid}-title {cid}-desc" class="chart bars" id="{cid}">',
        f'<title id="{cid}-title">{escape(title)}</title><desc id="{cid}-desc">{escape(title)}: {escape(said)}.</desc>',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    room = width - label_w - 50
    for i, (label, value) in enumerate(rows):
        y = gap + i * (bar + gap)
        length = room * value / top
        parts.append(f'<text x="{label_w - 6}" y="{y + bar - 5}" text-anchor="end" fill="{INK}" {FONT}>{escape(label[:24])}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{length:.1f}" height="{bar}" fill="{MUTED}"/>')
        parts.append(f'<text x="{label_w + length + 6:.1f}" y="{y + bar - 5}" fill="{INK}" font-weight="700" {FONT}>{number(value)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
