"""Percentiles are continuous (as PostgreSQL's percentile_cont) on both databases, however many groups there are.

For n sorted values v1..vn the p-th percentile is at position 1 + p(n-1), interpolated between its
neighbours (docs/indicators.md). On SQLite the neighbours are read by position from an index, a few
hundred look-ups a statement, so the groups here need more than one statement.
"""

from __future__ import annotations

from fractions import Fraction

from bot.services.indicators import Scope, make_period
from bot.services.indicators.sql import MEDIAN, P90, Ctx
from tests.indicators.conftest import LONDON, World, utc

FIRST = utc(2026, 11, 2).date()
NOW = utc(2026, 11, 9, 12, 0)


def by_hand(values: list[float], fraction: tuple[int, int]) -> float:
    """The percentile as defined: position 1 + p(n-1) in the sorted values, interpolated."""
    ordered = sorted(values)
    position = Fraction(fraction[0], fraction[1]) * (len(ordered) - 1)
    low = int(position)
    if low == position:
        return round(ordered[low], 3)
    return round(ordered[low] + (ordered[low + 1] - ordered[low]) * float(position - low), 3)


async def test_median_and_90th_percentile_of_many_groups_follow_the_definition(world: World) -> None:
    # 450 groups of 1 to 12 values, with ties and a missing value in some, so more than one statement of look-ups.
    values = {g: [float((g * 7 + i * 13) % 10) + (g % 3) / 4 for i in range(1 + g % 12)] for g in range(450)}
    rows = [f"({g}, {v!r})" for g, vs in values.items() for v in vs] + [f"({g}, NULL)" for g in range(0, 450, 7)]
    inner = f"WITH t(g, v) AS (VALUES {', '.join(rows)}) SELECT g, v FROM t"
    period = make_period("custom", FIRST, LONDON, FIRST, FIRST)
    async with world.db() as session:
        median, p90 = await Ctx(session, period, Scope(), NOW).percentiles(inner, (MEDIAN, P90))
    assert median == {g: by_hand(vs, MEDIAN) for g, vs in values.items()}
    assert p90 == {g: by_hand(vs, P90) for g, vs in values.items()}
    # Worked by hand: group 5 has 6 values 5.5, 8.5, 1.5, 4.5, 7.5, 0.5 -> sorted 0.5 1.5 4.5 5.5 7.5 8.5;
    # the median is halfway between the 3rd and 4th (5.0), the 90th percentile at 5.5 of 6 (8.0).
    assert (median[5], p90[5]) == (5.0, 8.0)
