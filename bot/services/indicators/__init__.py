"""Manager dashboards: every engagement indicator for a period and scope, each one SQL aggregate.

Definitions and formulas: docs/indicators.md. The JSON shape is versioned by VERSION.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

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


# On PostgreSQL the groups are computed on several connections at once, all reading one snapshot of the data
# (so the figures agree with each other as if computed one after another). Each lane is a connection; the
# responsiveness group and the worker table share one, since both read the waits it materialises. The team
# table reads no waits, so it goes in another lane: the lanes take about as long as each other (at council
# scale, alone: about 400, 460 and 420 ms).
LANES: tuple[tuple[str, ...], ...] = (
    ("wellbeing", "reach", "voice", "safeguarding"),
    ("responsiveness", "workers"),
    ("checkins", "appointments", "outcomes", "workload", "teams"),
)


async def compute_dashboard(
    session: AsyncSession, period: Period, scope: Scope, now: datetime, only: tuple[str, ...] = (),
    *, tables: bool = False, own: int | None = None, rollup: bool = True, concurrent: bool = True,
) -> Dashboard:
    """Compute every indicator group (or only the named ones) for a period and scope, and the tables if asked.

    own: show only this staff member's rows of the tables (a key worker's view).
    rollup: read what the rollup job summarised up to its watermark (the figures are the same; False reads raw rows only).
    concurrent: on PostgreSQL, compute the groups on several connections sharing this session's snapshot.
    """
    wanted = [name for name in (_name(m) for m in GROUPS) if not only or name in only] + (["workers", "teams"] if tables else [])
    lanes = [[name for name in lane if name in wanted] for lane in LANES]
    lanes = [lane for lane in lanes if lane]
    if concurrent and session.bind.dialect.name == "postgresql" and len(lanes) > 1:
        snapshot = (await session.execute(text("SELECT pg_export_snapshot()"))).scalar_one()
        engine = session.bind if isinstance(session.bind, AsyncEngine) else session.bind.engine
        done = await asyncio.gather(*(_lane(engine, snapshot, lane, period, scope, now, own, rollup) for lane in lanes))
        found = {name: made for lane in done for name, made in lane.items()}
    else:
        found = await _compute(session, wanted, period, scope, now, own, rollup)
    groups = tuple(found[name] for name in wanted if name not in ("workers", "teams"))
    made = (found["workers"], found["teams"]) if tables else ()
    return Dashboard(period, scope, now, groups, made)  # type: ignore[arg-type]


def _name(module: object) -> str:
    return module.__name__.rsplit(".", 1)[-1]  # type: ignore[attr-defined,no-any-return]


async def _compute(
    session: AsyncSession, names: list[str], period: Period, scope: Scope, now: datetime, own: int | None, rollup: bool,
) -> dict[str, object]:
    """Compute the named groups (and tables, "workers" and "teams") one after another on one session."""
    # Only the scope's young people are needed unless the worker table is here with others' rows (every worker's,
    # or a key worker's own outside the scope asked for).
    narrow = "workers" not in names or scope == Scope(ScopeKind.WORKER, own)
    ctx = Ctx(session, period, scope, now, rollup=rollup, own=own, narrow=narrow)
    await ctx.tune()
    found: dict[str, object] = {}
    try:
        for module in GROUPS:
            if _name(module) in names:
                found[_name(module)] = await module.compute(ctx)
        if "workers" in names:
            found["workers"] = await workers(ctx)
        if "teams" in names:
            found["teams"] = await teams(ctx)
    finally:
        await ctx.close()
    return found


async def _lane(
    engine: AsyncEngine, snapshot: str, names: list[str], period: Period, scope: Scope, now: datetime, own: int | None, rollup: bool,
) -> dict[str, object]:
    """Compute some groups on a connection of their own, reading the exported snapshot."""
    async with engine.connect() as connection:
        connection = await connection.execution_options(isolation_level="REPEATABLE READ")
        await connection.begin()
        # Quoted by us: the snapshot's name is PostgreSQL's own (digits, letters and dashes), never a request's.
        await connection.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
        try:
            async with AsyncSession(bind=connection) as session:
                return await _compute(session, names, period, scope, now, own, rollup)
        finally:
            await connection.rollback()
