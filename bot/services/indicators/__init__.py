"""Manager dashboards: every engagement indicator for a period and scope, each one SQL aggregate.

Definitions and formulas: docs/indicators.md. The JSON shape is versioned by VERSION.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.indicators import appointments, checkins, outcomes, reach, responsiveness, safeguarding, voice, wellbeing, workload
from bot.services.indicators.figures import Breakdown, Figure, Group
from bot.services.indicators.period import Period, Scope, ScopeKind, make_period
from bot.services.indicators.sql import Ctx
from bot.services.indicators.tables import Table, teams, workers

VERSION = "1"
GROUPS = (reach, responsiveness, checkins, appointments, wellbeing, safeguarding, workload, voice, outcomes)

__all__ = ["VERSION", "Breakdown", "Dashboard", "Figure", "Group", "Period", "Scope", "Table", "ScopeKind", "compute_dashboard", "make_period"]


@dataclass(frozen=True)
class Dashboard:
    period: Period
    scope: Scope
    computed_at: datetime
    groups: tuple[Group, ...]
    tables: tuple[Table, ...] = ()

    def figures(self) -> dict[str, Figure]:
        return {f.key: f for g in self.groups for f in g.figures}


async def compute_dashboard(
    session: AsyncSession, period: Period, scope: Scope, now: datetime, only: tuple[str, ...] = (),
    *, tables: bool = False, own: int | None = None, rollup: bool = True,
) -> Dashboard:
    """Compute every indicator group (or only the named ones) for a period and scope, and the tables if asked.

    own: show only this staff member's rows of the tables (a key worker's view).
    rollup: read what the rollup job summarised up to its watermark (the figures are the same; False reads raw rows only).
    """
    ctx = Ctx(session, period, scope, now, rollup=rollup)
    await ctx.tune()
    groups: list[Group] = []
    made: tuple[Table, ...] = ()
    try:
        for module in GROUPS:
            name = module.__name__.rsplit(".", 1)[-1]
            if only and name not in only:
                continue
            groups.append(await module.compute(ctx))
        if tables:
            made = (await workers(ctx, own), await teams(ctx, own))
    finally:
        await ctx.close()
    return Dashboard(period, scope, now, tuple(groups), made)
