"""Messages counted by young person, local week and day (message_weeks), read with the raw messages after the watermark.

The rollup job adds every message before its watermark to message_weeks: per young person and local week,
how many they (or each staff member, to them) sent on each day, and the first and last of them. A window
of the dashboard is whole local days and perhaps a piece of one (a period's edge next to a clock change)
or a stretch after the watermark: the whole days before the watermark are summed from the rollup, the rest
is read from the messages, so every figure is the raw messages' figure (tests/indicators/test_rollup.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.services.hours import at_local
from bot.services.indicators.period import ScopeKind
from bot.services.indicators.sql import Ctx, ts_literal
from models.rollup import MESSAGE_WEEKS

DAYS = 7
DAY_SUM = " + ".join(f"r.d{i} * gw.m{i}" for i in range(DAYS))  # a row's messages on the window's days of its week
_NEVER = date(1900, 1, 1)  # a week no row has: stands in for an empty VALUES list


def midnight(day: date, tz: ZoneInfo) -> datetime:
    """The start of a local day, in UTC."""
    return at_local(day, "00:00", tz).astimezone(UTC)


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def day_pieces(start: datetime, end: datetime, tz: ZoneInfo) -> list[tuple[str, datetime, datetime, date, int]]:
    """Cut the local days over [start, end) at UTC midnights: (UTC day, from, to, local Monday, weekday)."""
    pieces = []
    day = start.astimezone(tz).date()
    while midnight(day, tz) < end:
        s, e = midnight(day, tz), midnight(day + timedelta(days=1), tz)
        while s < e:
            cut = min(e, datetime.combine(s.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC))
            pieces.append((s.date().isoformat(), s, cut, monday(day), day.weekday()))
            s = cut
        day += timedelta(days=1)
    return pieces


def days_cte(dialect: str, start: datetime, end: datetime, tz: ZoneInfo) -> str:
    """days(d, ss, se, week, dow): the local days over [start, end), as VALUES keyed by UTC day (for the build)."""
    day = (lambda iso: f"'{iso}'") if dialect == "sqlite" else (lambda iso: f"DATE '{iso}'")
    values = ", ".join(
        f"({day(d)}, {ts_literal(dialect, s)}, {ts_literal(dialect, e)}, {day(week.isoformat())}, {dow})"
        for d, s, e, week, dow in day_pieces(start, end, tz)
    )
    return f"days(d, ss, se, week, dow) AS (VALUES {values})"


@dataclass(frozen=True)
class Plan:
    """Which of each window comes from message_weeks (weeks and their days) and which from the messages."""

    weeks: tuple[tuple[int, date, tuple[int, ...], datetime, datetime], ...]  # (g, Monday, a 0/1 per day, week from, to)
    raw: tuple[tuple[int, datetime, datetime], ...]  # (g, from, to)


def make_plan(windows: Iterable[tuple[int, datetime, datetime]], tz: ZoneInfo, built_to: datetime | None) -> Plan:
    """Split each window into whole local days before the watermark (from the rollup) and the rest (raw)."""
    weeks: list[tuple[int, date, tuple[int, ...], datetime, datetime]] = []
    raw: list[tuple[int, datetime, datetime]] = []
    for g, gs, ge in windows:
        days: list[date] = []
        if built_to is not None:
            day = gs.astimezone(tz).date()
            while midnight(day, tz) < min(ge, built_to):
                if midnight(day, tz) >= gs and midnight(day + timedelta(days=1), tz) <= ge:
                    days.append(day)
                day += timedelta(days=1)
        if not days:
            raw.append((g, gs, ge))
            continue
        # The days are consecutive: the rollup holds [first day, the watermark or the last day's end).
        a, b = midnight(days[0], tz), midnight(days[-1] + timedelta(days=1), tz)
        held_to = min(b, built_to) if built_to is not None else b
        if gs < a:
            raw.append((g, gs, a))
        if held_to < ge:
            raw.append((g, held_to, ge))
        by_week: dict[date, list[int]] = {}
        for day in days:
            by_week.setdefault(monday(day), [0] * DAYS)[day.weekday()] = 1
        for week, mask in sorted(by_week.items()):
            weeks.append((g, week, tuple(mask), midnight(week, tz), midnight(week + timedelta(days=DAYS), tz)))
    return Plan(tuple(weeks), tuple(raw))


async def plan(ctx: Ctx) -> Plan:
    """This computation's plan: raw rows only without the rollup (or if it was built in another time zone)."""
    cached = ctx.cache.get(MESSAGE_WEEKS)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    mark = await ctx.rollup_mark(MESSAGE_WEEKS)
    built_to = mark[0] if mark is not None and mark[1] == ctx.period.tz.key else None
    made = make_plan(ctx.window_list(), ctx.period.tz, built_to)
    ctx.cache[MESSAGE_WEEKS] = made
    return made


def ctes(ctx: Ctx, made: Plan, only: Iterable[int] | None = None) -> list[str]:
    """gw(g, week, m0..m6, ws, we) and graw(g, rs, re): the plan as VALUES (only those windows, if named)."""
    keep = set(only) if only is not None else None
    day = (lambda d: f"'{d.isoformat()}'") if ctx.dialect == "sqlite" else (lambda d: f"DATE '{d.isoformat()}'")
    never = ctx.ts(datetime(1900, 1, 1, tzinfo=UTC))
    weeks = [
        f"({g}, {day(week)}, {', '.join(str(m) for m in mask)}, {ctx.ts(ws)}, {ctx.ts(we)})"
        for g, week, mask, ws, we in made.weeks if keep is None or g in keep
    ] or [f"(0, {day(_NEVER)}, {', '.join('0' for _ in range(DAYS))}, {never}, {never})"]
    raw = [f"({g}, {ctx.ts(s)}, {ctx.ts(e)})" for g, s, e in made.raw if keep is None or g in keep] or [f"(0, {never}, {never})"]
    columns = ", ".join(f"m{i}" for i in range(DAYS))
    return [f"gw(g, week, {columns}, ws, we) AS (VALUES {', '.join(weeks)})", f"graw(g, rs, re) AS (VALUES {', '.join(raw)})"]


def week_range(ctx: Ctx, made: Plan, keep: set[int] | None) -> str:
    """On PostgreSQL, the weeks read as a range of message_weeks' key too (" AND r.week ..."), or "" (SQLite, or no weeks).

    The rows are the same (gw's weeks lie in that range); without it PostgreSQL read every week's row to join gw's few.
    """
    weeks = [week for g, week, *_ in made.weeks if keep is None or g in keep]
    if ctx.dialect != "postgresql" or not weeks:
        return ""
    return f" AND r.week >= DATE '{min(weeks).isoformat()}' AND r.week <= DATE '{max(weeks).isoformat()}'"


async def writers(ctx: Ctx, by: str = "", only: Iterable[int] | None = None, *, everyone: bool = False) -> tuple[list[str], str]:
    """CTEs and a query of rows (g, yp, staff): young people who wrote in each window while in scope (repeats allowed).

    by="worker"/"team": staff is whose caseload or team they were on at the time (else NULL). everyone: whatever the scope.
    """
    made = await plan(ctx)
    scoped = not everyone and (bool(by) or ctx.scope.kind != ScopeKind.SERVICE)
    staff = "sc.staff_id" if by else "NULL"
    # The scope, materialised with an index on the young person: each week's row looks its young person up in it
    # (a planner without statistics on message_weeks would otherwise scan the scope once per row).
    scope = await ctx.temp(
        f"scope_{by or 'own'}", f"WITH {', '.join(ctx.scope_ctes(by))} SELECT young_person_id, staff_id, start_at, end_at FROM sc",
        "young_person_id",
    ) if scoped else ""
    # A week's row counts for a scope when the young person was in it from its first message to its last; where
    # the scope begins or ends between those (a handover that week), that week's messages are read instead.
    whole = (
        f"JOIN {scope} AS sc ON sc.young_person_id = r.young_person_id AND (sc.start_at IS NULL OR sc.start_at <= r.first_at) "
        "AND (sc.end_at IS NULL OR sc.end_at > r.last_at) "
    ) if scoped else ""
    keep = set(only) if only is not None else None
    rolled = (
        f"SELECT gw.g AS g, r.young_person_id AS yp, {staff} AS staff FROM message_weeks r JOIN gw ON gw.week = r.week "
        f"{whole}WHERE r.sender = 'young_person' AND {DAY_SUM} > 0{week_range(ctx, made, keep)}"
    )
    rolls = any(keep is None or g in keep for g, *_ in made.weeks)
    parts = [rolled] if rolls else []
    extra = ctes(ctx, made, only)
    if scoped and rolls:
        # The few weeks cut by a change of scope, found first; then whether they wrote while in it, by index.
        extra.append(
            "cut AS MATERIALIZED (SELECT gw.g, r.young_person_id AS yp, sc.staff_id, sc.start_at, sc.end_at, "
            "CASE WHEN gw.ws > grp.gs THEN gw.ws ELSE grp.gs END AS cs, CASE WHEN gw.we < grp.ge THEN gw.we ELSE grp.ge END AS ce "
            # (CROSS JOIN: SQLite then looks the weeks up from the few changes of scope, rather than the other way.)
            f"FROM {scope} AS sc CROSS JOIN message_weeks r JOIN gw ON gw.week = r.week JOIN grp ON grp.g = gw.g "
            "WHERE (sc.start_at IS NOT NULL OR sc.end_at IS NOT NULL) AND r.young_person_id = sc.young_person_id "
            f"AND r.sender = 'young_person'{week_range(ctx, made, keep)} AND ((sc.start_at > r.first_at AND sc.start_at <= r.last_at) "
            f"OR (sc.end_at > r.first_at AND sc.end_at <= r.last_at)) AND {DAY_SUM} > 0)"
        )
        parts.append(
            f"SELECT c.g AS g, c.yp AS yp, {'c.staff_id' if by else 'NULL'} AS staff FROM cut c WHERE EXISTS (SELECT 1 FROM messages m "
            "WHERE m.young_person_id = c.yp AND m.sender_kind = 'young_person' AND m.created_at >= c.cs AND m.created_at < c.ce "
            "AND (c.start_at IS NULL OR m.created_at >= c.start_at) AND (c.end_at IS NULL OR m.created_at < c.end_at))"
        )
    join_sc = f"JOIN {scope} AS sc ON {Ctx.at('m.young_person_id', 'm.created_at')} " if scoped else ""
    parts.append(
        f"SELECT graw.g AS g, m.young_person_id AS yp, {staff} AS staff FROM messages m JOIN graw ON m.created_at >= graw.rs AND m.created_at < graw.re "
        f"{join_sc}WHERE m.sender_kind = 'young_person'"
    )
    return extra, " UNION ALL ".join(parts)


async def staff_sent(ctx: Ctx, staff_id: int | None = None, *, by_staff: bool = False, only: Iterable[int] | None = None) -> dict[int, float]:
    """Staff messages sent in each window (or, by_staff, by each named staff member), of one staff member if given."""
    made = await plan(ctx)
    key_r, key_m = ("r.staff_id", "m.staff_id") if by_staff else ("gw.g", "graw.g")
    where_r = where_m = ""
    if staff_id is not None:
        where_r, where_m = f" AND r.staff_id = {int(staff_id)}", f" AND m.staff_id = {int(staff_id)}"
    elif by_staff:
        where_r, where_m = " AND r.staff_id <> 0", " AND m.staff_id IS NOT NULL"
    keep = set(only) if only is not None else None
    parts = [
        f"SELECT {key_m} AS k, COUNT(*) AS n FROM messages m JOIN graw ON m.created_at >= graw.rs AND m.created_at < graw.re "
        f"WHERE m.sender_kind = 'staff'{where_m} GROUP BY {key_m}"
    ]
    if any(keep is None or g in keep for g, *_ in made.weeks):
        parts.append(
            f"SELECT {key_r}, SUM({DAY_SUM}) FROM message_weeks r JOIN gw ON gw.week = r.week "
            f"WHERE r.sender = 'staff'{where_r}{week_range(ctx, made, keep)} GROUP BY {key_r}"
        )
    sql = f"WITH {', '.join(ctes(ctx, made, only))} SELECT k, SUM(n) FROM ({' UNION ALL '.join(parts)}) AS u GROUP BY k"
    return {int(k): float(n) for k, n in await ctx.rows(sql) if n}
