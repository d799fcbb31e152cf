"""Dashboard figures made ready to show: values in plain units, the change, and a chart per figure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup

from bot.services.chart import bar_chart, weekly_chart
from bot.services.indicators import Dashboard, Figure
from bot.services.indicators.tables import Table


def duration(seconds: float) -> str:
    """Write a duration briefly: 45s, 12m, 3h 05m, 2d 4h."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def value_text(value: float | None, unit: str) -> str:
    """Write a value in its unit; no value is a dash, never a made-up 0."""
    if value is None:
        return "–"
    if unit == "seconds":
        return duration(value)
    if unit == "percent":
        return f"{value:.1f}%"
    if unit == "days":
        return f"{value:.1f} days"
    if unit == "score":
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def change_text(figure: Figure) -> str:
    """Say how the figure moved against the previous period, and whether that is better."""
    change = figure.change
    if change is None:
        return "no figure for the previous period" if figure.previous is None else "no figure for this period"
    if abs(change) < 1e-9:
        return "same as the previous period"
    sign = "+" if change > 0 else "−"
    if figure.unit == "percent":
        amount = f"{abs(change):.1f} points"
    elif figure.unit == "seconds":
        amount = duration(abs(change))
    else:
        amount = value_text(abs(change), figure.unit)
    verdict = ""
    if figure.higher_is_better is not None:
        verdict = " (better)" if (change > 0) == figure.higher_is_better else " (worse)"
    return f"{sign}{amount} on the previous period{verdict}"


@dataclass(frozen=True)
class ShownFigure:
    figure: Figure
    value: str
    change: str
    chart: Markup


@dataclass(frozen=True)
class ShownGroup:
    key: str
    label: str
    figures: tuple[ShownFigure, ...]
    bars: tuple[tuple[str, Markup], ...]


@dataclass(frozen=True)
class Shown:
    groups: tuple[ShownGroup, ...]
    tables: tuple[tuple[Table, tuple[tuple[str, ...], ...]], ...]
    week_labels: tuple[str, ...]
    computed_at: datetime  # the moment the figures are for


def show_dashboard(board: Dashboard, tables: tuple[Table, ...]) -> Shown:
    """Turn a computed dashboard into texts and SVG charts."""
    tz = board.period.tz
    labels = tuple(f"{w.start.astimezone(tz):%-d %b}" for w in board.period.weeks)
    groups = []
    for group in board.groups:
        figures = tuple(
            ShownFigure(
                f, value_text(f.value, f.unit), change_text(f),
                weekly_chart(f"chart-{f.key.replace('.', '-')}", f.label, labels, f.trend, [value_text(v, f.unit) for v in f.trend]),
            )
            for f in group.figures
        )
        bars = tuple((b.label, bar_chart(f"bars-{b.key.replace('.', '-')}", b.label, [(label, float(v)) for label, v in b.rows])) for b in group.breakdowns)
        groups.append(ShownGroup(group.key, group.label, figures, bars))
    shown_tables = tuple(
        (t, tuple(tuple(str(cell) if c.unit == "text" else value_text(cell, c.unit) for c, cell in zip(t.columns, row, strict=True)) for row in t.rows))
        for t in tables
    )
    return Shown(tuple(groups), shown_tables, labels, board.computed_at)
