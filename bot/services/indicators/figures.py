"""Plain results: a figure with its previous value and weekly trend, breakdowns, and per-worker rows."""

from __future__ import annotations

from dataclasses import dataclass, field

PREVIOUS, TOTAL = -1, 9999  # group numbers for the previous period and the whole period; weeks are 0..n-1


@dataclass(frozen=True)
class Figure:
    key: str  # e.g. "responsiveness.first_reply_median"
    label: str
    unit: str  # "count", "percent", "seconds", "days", "score"
    value: float | None
    previous: float | None
    trend: tuple[float | None, ...]  # one per week of the period, oldest first
    higher_is_better: bool | None = None

    @property
    def change(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous


@dataclass(frozen=True)
class Breakdown:
    key: str
    label: str
    rows: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Group:
    key: str  # "reach", "responsiveness", ...
    label: str
    figures: tuple[Figure, ...]
    breakdowns: tuple[Breakdown, ...] = field(default_factory=tuple)


def figure(key: str, label: str, unit: str, groups: dict[int, float | None], weeks: int, higher_is_better: bool | None = None) -> Figure:
    """Make a figure from values by group: the whole period, the previous one, and each week."""
    return Figure(
        key, label, unit, groups.get(TOTAL), groups.get(PREVIOUS),
        tuple(groups.get(w) for w in range(weeks)), higher_is_better,
    )


def ratio(numerator: dict[int, float | None], denominator: dict[int, float | None], scale: float = 100.0) -> dict[int, float | None]:
    """Divide group by group, None where the denominator is empty."""
    out: dict[int, float | None] = {}
    for group, bottom in denominator.items():
        top = numerator.get(group) or 0
        out[group] = round(scale * top / bottom, 2) if bottom else None
    return out
