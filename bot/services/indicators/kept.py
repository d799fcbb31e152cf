"""Dashboard views kept fresh: a page shows figures worked out at most a minute before, never older.

Working out the whole service's figures at council scale takes most of a second of database work
(docs/benchmarks.md); a manager's page should not wait for it. Each view (a period, a scope and whose rows
the tables show) is stored in dashboard_views with the moment its figures are for. A page within FRESH of
that moment shows them, with the moment; an older one (or none) is worked out there and then and stored.
The dashboard_refresh job, every minute, works out again each view a page asked for in the last HOT, and
the whole service's last four weeks always, so the pages people are looking at are ready when they ask.
The figures are those compute_dashboard gives at that moment, exactly: only when they were worked out differs.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.scheduler import JobContext, Outcome, done
from bot.services.indicators import VERSION, Dashboard, compute_dashboard
from bot.services.indicators.figures import Breakdown, Figure, Group
from bot.services.indicators.period import Period, Scope, ScopeKind, Week, make_period
from bot.services.indicators.rollup import plan_every
from bot.services.indicators.tables import Column, Table
from models import DashboardView, Job, JobState

log = logging.getLogger(__name__)

REFRESH_JOB = "dashboard_refresh"
EVERY = timedelta(minutes=1)  # how often the job runs
HOT = timedelta(minutes=15)  # a view a page asked for this recently is worked out again on each run
MOST = 8  # views worked out in one run at most, the most lately asked for first (the whole service: about a second at council scale)
KEEP = timedelta(days=1)  # a view nobody asked for this long is deleted (and the job's own finished runs)
DEFAULT = ("4weeks", Scope())  # the view the dashboard opens on for a manager: always kept fresh


def view_key(period: Period, scope: Scope, own: int | None) -> str:
    """What a view is of: the JSON version, the period's days and time zone, the scope and whose rows."""
    return (
        f"v{VERSION}:{period.name}:{period.first_day}:{period.last_day}:{period.tz.key}:"
        f"{scope.kind}:{scope.staff_id or ''}:{own or ''}"
    )


def dump(board: Dashboard) -> str:
    """The dashboard as JSON, every value as computed (load gives back an equal Dashboard)."""
    p = board.period
    return json.dumps({
        "period": [p.name, p.start.isoformat(), p.end.isoformat(), p.tz.key, [[w.index, w.start.isoformat(), w.end.isoformat()] for w in p.weeks]],
        "scope": [str(board.scope.kind), board.scope.staff_id],
        "computed_at": board.computed_at.isoformat(),
        "groups": [
            [g.key, g.label, [[f.key, f.label, f.unit, f.value, f.previous, list(f.trend), f.higher_is_better] for f in g.figures],
             [[b.key, b.label, [list(r) for r in b.rows]] for b in g.breakdowns]]
            for g in board.groups
        ],
        "tables": [[t.key, t.label, [[c.key, c.label, c.unit] for c in t.columns], [list(r) for r in t.rows]] for t in board.tables],
    })


def load(text: str) -> Dashboard:
    """The Dashboard dump wrote."""
    data: dict[str, Any] = json.loads(text)
    name, start, end, tz, weeks = data["period"]
    period = Period(
        name, _moment(start), _moment(end), tuple(Week(i, _moment(s), _moment(e)) for i, s, e in weeks), ZoneInfo(tz),
    )
    groups = tuple(
        Group(key, label, tuple(Figure(k, lb, u, v, pv, tuple(t), h) for k, lb, u, v, pv, t, h in figures),
              tuple(Breakdown(k, lb, tuple(tuple(r) for r in rows)) for k, lb, rows in breakdowns))
        for key, label, figures, breakdowns in data["groups"]
    )
    tables = tuple(
        Table(key, label, tuple(Column(*c) for c in columns), tuple(tuple(r) for r in rows))
        for key, label, columns, rows in data["tables"]
    )
    kind, staff_id = data["scope"]
    return Dashboard(period, Scope(ScopeKind(kind), staff_id), _moment(data["computed_at"]), groups, tables)


def _moment(iso: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone(UTC)


async def kept_dashboard(
    session: AsyncSession, period: Period, scope: Scope, now: datetime, *, own: int | None, fresh: timedelta,
) -> Dashboard:
    """The view's figures (tables included) worked out at most fresh before now: stored ones, or worked out now and stored.

    Commits: the view is noted as asked for (and stored when worked out), whatever the caller goes on to do.
    fresh 0: always worked out now (and stored, for the job to keep fresh).
    """
    key = view_key(period, scope, own)
    found = await session.get(DashboardView, key)
    if found is not None and now - fresh < found.computed_at <= now:
        found.viewed_at = now
        board = load(found.figures)
        await session.commit()
        return board
    board = await compute_dashboard(session, period, scope, now, tables=True, own=own)
    await store(session, board, own, viewed_at=now)
    await session.commit()
    return board


async def store(session: AsyncSession, board: Dashboard, own: int | None, *, viewed_at: datetime | None) -> None:
    """Store a view's figures, unless figures for a later moment are stored already (a page and the job at once).

    viewed_at: a page asked for it then (None: the job worked it out; when it was last asked for is kept).
    """
    period, scope = board.period, board.scope
    row = {
        "key": view_key(period, scope, own), "period_name": period.name, "first_day": period.first_day, "last_day": period.last_day,
        "scope_kind": str(scope.kind), "staff_id": scope.staff_id, "own": own, "computed_at": board.computed_at,
        "viewed_at": viewed_at or board.computed_at, "figures": dump(board),
    }
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    statement = insert(DashboardView).values(**row)
    newer = {name: statement.excluded[name] for name in ("computed_at", "figures")}
    if viewed_at is not None:
        newer["viewed_at"] = statement.excluded.viewed_at
    await session.execute(statement.on_conflict_do_update(
        index_elements=["key"], set_=newer, where=DashboardView.computed_at < statement.excluded.computed_at,
    ))


async def plan_refresh(session: AsyncSession, now: datetime) -> None:
    """Make sure a refresh is planned at the next minute of the clock (one per minute, however many processes ask)."""
    await plan_every(session, now, REFRESH_JOB, EVERY)


def _period(name: str, first: date, last: date, today: date, tz: ZoneInfo) -> Period:
    """A view's period as of today: a named one moves on with the days (this week, the last 4 weeks), a custom one does not."""
    return make_period(name, today, tz, first, last) if name == "custom" else make_period(name, today, tz)


async def refresh(session_factory: async_sessionmaker[AsyncSession], now: datetime, tz: ZoneInfo) -> int:
    """Work out again the default view and every view asked for in the last HOT (at most MOST); return how many.

    A view worked out less than half a minute ago (by a page) is left as it is. Views nobody asked for in KEEP are deleted.
    """
    today = now.astimezone(tz).date()
    async with session_factory() as session, session.begin():
        await session.execute(delete(DashboardView).where(DashboardView.viewed_at < now - KEEP))
        hot = (await session.execute(
            select(DashboardView.period_name, DashboardView.first_day, DashboardView.last_day, DashboardView.scope_kind,
                   DashboardView.staff_id, DashboardView.own)
            .where(DashboardView.viewed_at >= now - HOT).order_by(DashboardView.viewed_at.desc()).limit(MOST)
        )).all()
    name, scope = DEFAULT
    default = make_period(name, today, tz)
    wanted = {view_key(default, scope, None): (default, scope, None)}
    for period_name, first, last, kind, staff_id, own in hot:
        period, scope = _period(period_name, first, last, today, tz), Scope(ScopeKind(kind), staff_id)
        wanted.setdefault(view_key(period, scope, own), (period, scope, own))
    worked = 0
    for key, (period, scope, own) in list(wanted.items())[:MOST]:
        async with session_factory() as session:
            stored = await session.get(DashboardView, key)
            if stored is not None and now - EVERY / 2 < stored.computed_at <= now:
                continue
            board = await compute_dashboard(session, period, scope, now, tables=True, own=own)
            await store(session, board, own, viewed_at=None)
            await session.commit()
            worked += 1
    return worked


async def run_refresh(ctx: JobContext) -> Outcome:
    """Plan the next run (committed on its own, so a failing run never ends the chain), clear old runs, then refresh."""
    async with ctx.rt.db() as session, session.begin():
        await plan_refresh(session, ctx.now)
        await session.execute(delete(Job).where(Job.kind == REFRESH_JOB, Job.state == JobState.DONE, Job.finished_at < ctx.now - KEEP))
    worked = await refresh(ctx.rt.db, ctx.now, ctx.rt.settings.tz)
    log.info("dashboard refresh: %s views worked out again", worked)
    return done(f"{worked} views worked out again")
