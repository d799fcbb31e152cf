"""Percentiles are continuous (as PostgreSQL's percentile_cont) on both databases, however many groups there are.

For n sorted values v1..vn the p-th percentile is at position 1 + p(n-1), interpolated between its
neighbours (docs/indicators.md). On SQLite the neighbours are read by position from an index, a few
hundred look-ups a statement, so the groups here need more than one statement.
"""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

from bot.services.indicators import Scope, make_period
from bot.services.indicators.figures import PREVIOUS, TOTAL
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


async def test_summary_read_by_week_in_place_matches_the_windows_worked_out_by_hand(world: World) -> None:
    # A table of waits with their week (wg): the previous period (-1), the period's 3 weeks (0-2) and after it
    # (NULL, counted nowhere); some waits unanswered (v NULL), some outside working hours, verdicts 1, 0 or
    # undecided (NULL). Week 2's verdicts are all undecided: its share, and so no more than the other weeks'
    # shares for the whole period, comes out unknown (NULL), as SUM over no decided rows does.
    rows = []
    for i in range(120):
        wg = (-1, 0, 1, 2, None)[i % 5]
        v = None if i % 11 == 0 else float((i * 37) % 50) + (i % 4) / 4
        working = i % 3 != 0
        on_time = None if wg == 2 or i % 7 == 0 else i % 2
        rows.append((wg, v, working, on_time))

    def sql(value: object, kind: str) -> str:
        return f"CAST(NULL AS {kind})" if value is None else repr(value)

    values = ", ".join(
        f"({sql(wg, 'INTEGER')}, {sql(v, 'DOUBLE PRECISION')}, {int(w)}, {sql(t, 'INTEGER')})" for wg, v, w, t in rows
    )
    period = make_period("custom", FIRST, LONDON, FIRST, FIRST + timedelta(days=20))
    counts = ("COUNT(*)", "SUM(CASE WHEN v IS NULL THEN 1 ELSE 0 END)", "COUNT(on_time)", "SUM(on_time)")
    fractions = (("1 = 1", MEDIAN), ("1 = 1", P90), ("working = 1", MEDIAN), ("working = 1", P90))
    async with world.db() as session:
        ctx = Ctx(session, period, Scope(), NOW)
        table = await ctx.temp("waits", f"WITH r(wg, v, working, on_time) AS (VALUES {values}) SELECT * FROM r")
        found, out = await ctx.week_summary(table, counts, fractions)
        # Only week 2's waits: no verdict anywhere in the period, so none for the whole period either.
        only = await ctx.temp("week_2", f"SELECT * FROM {table} WHERE wg = 2")
        (_, _, decided_2, on_time_2), _ = await ctx.week_summary(only, counts, fractions)
        await ctx.close()
    assert (decided_2[TOTAL], on_time_2[TOTAL], on_time_2[PREVIOUS]) == (0, None, 0)

    windows = {PREVIOUS: (-1,), TOTAL: (0, 1, 2), 0: (0,), 1: (1,), 2: (2,)}
    for g, weeks in windows.items():
        these = [r for r in rows if r[0] in weeks]
        decided = [t for _, _, _, t in these if t is not None]
        assert found[0][g] == len(these)
        assert found[1][g] == sum(1 for r in these if r[1] is None)
        assert found[2][g] == len(decided)
        assert found[3][g] == (sum(decided) if decided else None)
        for (condition, fraction), got in zip(fractions, out, strict=True):
            kept = [v for _, v, w, _ in these if v is not None and (w or condition == "1 = 1")]
            assert got[g] == by_hand(kept, fraction), (g, condition, fraction)
    assert found[3][2] is None and found[3][TOTAL] is not None
