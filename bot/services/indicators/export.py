"""The dashboard as JSON (versioned, for a council's own reporting) and as CSV tables."""

from __future__ import annotations

import csv
import io
from typing import Any

from bot.services.indicators import VERSION, Dashboard
from bot.services.indicators.tables import Table

CSV_TABLES = ("indicators", "trend", "breakdowns", "workers", "teams")


def as_json(board: Dashboard, tables: tuple[Table, ...]) -> dict[str, Any]:
    """Describe every indicator, breakdown and table in plain JSON types."""
    period = board.period
    return {
        "version": VERSION,
        "computed_at": board.computed_at.isoformat(),
        "period": {
            "name": period.name, "start": period.start.isoformat(), "end": period.end.isoformat(),
            "first_day": period.first_day.isoformat(), "last_day": period.last_day.isoformat(),
            "previous_start": period.previous_start.isoformat(), "time_zone": str(period.tz),
        },
        "scope": {"kind": str(board.scope.kind), "staff_id": board.scope.staff_id},
        "weeks": [{"index": w.index, "start": w.start.isoformat(), "end": w.end.isoformat()} for w in period.weeks],
        "indicators": [
            {
                "key": f.key, "group": g.key, "label": f.label, "unit": f.unit, "value": f.value, "previous": f.previous,
                "change": f.change, "higher_is_better": f.higher_is_better, "trend": list(f.trend),
            }
            for g in board.groups for f in g.figures
        ],
        "breakdowns": [
            {"key": b.key, "group": g.key, "label": b.label, "rows": [{"label": label, "value": float(v)} for label, v in b.rows]}
            for g in board.groups for b in g.breakdowns
        ],
        "tables": [
            {"key": t.key, "label": t.label, "columns": [{"key": c.key, "label": c.label, "unit": c.unit} for c in t.columns],
             "rows": [dict(zip([c.key for c in t.columns], row, strict=True)) for row in t.rows]}
            for t in tables
        ],
    }


def _cell(value: object) -> object:
    # A leading =, +, - or @ would make a spreadsheet run the cell as a formula.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return "" if value is None else value


def as_csv(board: Dashboard, tables: tuple[Table, ...], name: str) -> str:
    """Write one of the dashboard's tables as CSV."""
    out = io.StringIO()
    writer = csv.writer(out)
    if name == "indicators":
        writer.writerow(["group", "key", "label", "unit", "value", "previous", "change"])
        for g in board.groups:
            for f in g.figures:
                writer.writerow([_cell(x) for x in (g.key, f.key, f.label, f.unit, f.value, f.previous, f.change)])
    elif name == "trend":
        writer.writerow(["key", "label", "unit", *[f"week of {w.start.astimezone(board.period.tz):%Y-%m-%d}" for w in board.period.weeks]])
        for g in board.groups:
            for f in g.figures:
                writer.writerow([_cell(x) for x in (f.key, f.label, f.unit, *f.trend)])
    elif name == "breakdowns":
        writer.writerow(["key", "label", "row", "value"])
        for g in board.groups:
            for b in g.breakdowns:
                for label, value in b.rows:
                    writer.writerow([_cell(x) for x in (b.key, b.label, label, float(value))])
    else:
        (table,) = [t for t in tables if t.key == name] or [None]
        if table is None:
            raise ValueError(f"table {name!r} is not one of {', '.join(CSV_TABLES)}")
        writer.writerow([c.label for c in table.columns])
        for row in table.rows:
            writer.writerow([_cell(x) for x in row])
    return out.getvalue()
