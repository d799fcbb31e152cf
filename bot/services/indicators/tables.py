"""Tables for the whole period: one row per key worker, and one per hub staff member's teams."""

from __future__ import annotations

from dataclasses import dataclass

from bot.services.indicators import message_weeks, responsiveness
from bot.services.indicators.figures import TOTAL
from bot.services.indicators.sql import MEDIAN, Ctx, filed


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    unit: str  # "text", "count", "percent", "seconds", "days"


@dataclass(frozen=True)
class Table:
    key: str
    label: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[str | float | None, ...], ...]


def _pct(top: float | None, bottom: float | None) -> float | None:
    return round(100 * (top or 0) / bottom, 2) if bottom else None


async def _keyed(ctx: Ctx, sql: str, columns: int) -> list[dict[int, float | None]]:
    out: list[dict[int, float | None]] = [{} for _ in range(columns)]
    for row in await ctx.rows(sql):
        filed(out, int(row[0]), row[1:1 + columns])
    return out


def _of(column: str, staff_id: int | None) -> str:
    """The condition that keeps only one staff member's rows (appended with AND), or nothing when all are wanted."""
    return f" AND {column} = {int(staff_id)}" if staff_id is not None else ""


async def _names(ctx: Ctx, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    found = await ctx.rows(f"SELECT id, display_name FROM staff WHERE id IN ({', '.join(str(int(i)) for i in ids)})")
    return {int(i): str(name) for i, name in found}


async def workers(ctx: Ctx) -> Table:
    """One row per key worker (or only ctx.own's): caseload, who wrote, first replies, check-ins, appointments, alerts, messages, cover."""
    end = ctx.ts(ctx.period.end)
    total = f"grp.g = {TOTAL}"
    own = ctx.own
    (caseload,) = await _keyed(ctx, (
        f"WITH {ctx.stints()} SELECT st.staff_id, COUNT(DISTINCT y.id) FROM young_people y JOIN stints st ON st.young_person_id = y.id "
        f"AND (st.start_at IS NULL OR st.start_at < {end}) AND (st.end_at IS NULL OR st.end_at >= {end}){_of('st.staff_id', own)} "
        f"WHERE y.created_at < {end} AND (y.left_service_at IS NULL OR y.left_service_at >= {end}) "
        f"AND (y.erased_at IS NULL OR y.erased_at >= {end}) GROUP BY st.staff_id"
    ), 1)
    extra, wrote_rows = await message_weeks.writers(ctx, by="worker", only=(TOTAL,))
    (wrote,) = await _keyed(ctx, (
        f"{ctx.with_(*extra, by='worker')} SELECT staff, COUNT(DISTINCT yp) FROM ({wrote_rows}) AS w WHERE g = {TOTAL} GROUP BY staff"
    ), 1)
    waits = await responsiveness.rows(ctx, by="worker")
    (n_waits, decided, on_time), (median,) = await ctx.summary(
        f"SELECT staff AS g, v, on_time FROM ({waits}) AS r WHERE g = {TOTAL}",
        ("COUNT(*)", "COUNT(on_time)", "SUM(on_time)"), (("1 = 1", MEDIAN),), keyed=True,
    )
    sent, answered = await _keyed(ctx, (
        f"{ctx.with_(by='worker')} SELECT sc.staff_id, COUNT(*), COUNT(c.answered_at) FROM checkins c "
        f"JOIN {ctx.windows('worker')} AS grp ON {total} AND {ctx.in_group('c.sent_at', 'worker')} {ctx.join_at('c.young_person_id', 'c.sent_at', 'worker')} GROUP BY sc.staff_id"
    ), 2)
    attended, missed = await _keyed(ctx, (
        f"{ctx.with_(by='worker')} SELECT sc.staff_id, SUM(CASE WHEN a.status = 'attended' THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN a.status = 'missed' THEN 1 ELSE 0 END) FROM appointments a "
        f"JOIN {ctx.windows('worker')} AS grp ON {total} AND {ctx.in_group('a.starts_at', 'worker')} {ctx.join_at('a.young_person_id', 'a.starts_at', 'worker')} GROUP BY sc.staff_id"
    ), 2)
    (alerts,) = await _keyed(ctx, (
        f"{ctx.with_(by='worker')} SELECT sc.staff_id, COUNT(*) FROM alerts a "
        f"JOIN {ctx.windows('worker')} AS grp ON {total} AND {ctx.in_group('a.raised_at', 'worker')} {ctx.join_at('a.young_person_id', 'a.raised_at', 'worker')} GROUP BY sc.staff_id"
    ), 1)
    messages = await message_weeks.staff_sent(ctx, own, by_staff=True, only=(TOTAL,))
    ended = f"COALESCE(l.cover_ended_at, {ctx.ts(ctx.now)})"
    lo = f"CASE WHEN l.cover_started_at > {ctx.ts(ctx.period.start)} THEN l.cover_started_at ELSE {ctx.ts(ctx.period.start)} END"
    hi = f"CASE WHEN {ended} < {end} THEN {ended} ELSE {end} END"
    (cover,) = await _keyed(ctx, (
        f"SELECT l.cover_id, SUM({ctx.secs(lo, hi)}) / 86400.0 FROM leave_periods l WHERE l.cover_started_at IS NOT NULL "
        f"AND l.cover_started_at < {end} AND {ended} > {ctx.ts(ctx.period.start)}{_of('l.cover_id', own)} GROUP BY l.cover_id"
    ), 1)
    ids = set().union(caseload, wrote, n_waits, sent, attended, alerts, messages, cover) if own is None else {own}
    names = await _names(ctx, ids)
    rows = []
    for staff_id in sorted(ids, key=lambda i: (names.get(i, ""), i)):
        rows.append((
            names.get(staff_id, f"#{staff_id}"), caseload.get(staff_id, 0), wrote.get(staff_id, 0), n_waits.get(staff_id, 0),
            median.get(staff_id), _pct(on_time.get(staff_id), decided.get(staff_id)), sent.get(staff_id, 0),
            _pct(answered.get(staff_id), sent.get(staff_id)),
            _pct(attended.get(staff_id), (attended.get(staff_id) or 0) + (missed.get(staff_id) or 0)),
            alerts.get(staff_id, 0), messages.get(staff_id, 0), round(cover.get(staff_id) or 0, 2),
        ))
    return Table("workers", "Key workers", (
        Column("worker", "Key worker", "text"), Column("caseload", "Caseload at the end", "count"),
        Column("messaged", "Young people who wrote", "count"), Column("waits", "Waits for a reply", "count"),
        Column("first_reply_median", "First reply, median", "seconds"),
        Column("within_working_day", "Answered within a working day", "percent"),
        Column("checkins_sent", "Check-ins sent", "count"), Column("checkin_answer_rate", "Check-in answer rate", "percent"),
        Column("attendance_rate", "Attendance rate", "percent"), Column("alerts", "Alerts", "count"),
        Column("messages_sent", "Messages sent", "count"), Column("cover_days", "Cover given (days)", "days"),
    ), tuple(rows))


async def teams(ctx: Ctx) -> Table:
    """One row per hub staff member (or only ctx.own's): the young people on their teams, their check-ins, alerts and missing episodes."""
    total = f"grp.g = {TOTAL}"
    (people,) = await _keyed(ctx, (
        f"{ctx.with_(by='team')} SELECT sc.staff_id, COUNT(DISTINCT sc.young_person_id) FROM sc JOIN grp ON {total} "
        "AND (sc.start_at IS NULL OR sc.start_at < grp.ge) AND (sc.end_at IS NULL OR sc.end_at > grp.gs) GROUP BY sc.staff_id"
    ), 1)
    sent, answered = await _keyed(ctx, (
        f"{ctx.with_(by='team')} SELECT sc.staff_id, COUNT(*), COUNT(c.answered_at) FROM checkins c "
        f"JOIN {ctx.windows('team')} AS grp ON {total} AND {ctx.in_group('c.sent_at', 'team')} {ctx.join_at('c.young_person_id', 'c.sent_at', 'team')} GROUP BY sc.staff_id"
    ), 2)
    (alerts,) = await _keyed(ctx, (
        f"{ctx.with_(by='team')} SELECT sc.staff_id, COUNT(*) FROM alerts a "
        f"JOIN {ctx.windows('team')} AS grp ON {total} AND {ctx.in_group('a.raised_at', 'team')} {ctx.join_at('a.young_person_id', 'a.raised_at', 'team')} GROUP BY sc.staff_id"
    ), 1)
    (missing,) = await _keyed(ctx, (
        f"{ctx.with_(by='team')} SELECT sc.staff_id, COUNT(*) FROM missing_episodes e "
        f"JOIN {ctx.windows('team')} AS grp ON {total} AND {ctx.in_group('e.started_at', 'team')} {ctx.join_at('e.young_person_id', 'e.started_at', 'team')} GROUP BY sc.staff_id"
    ), 1)
    ids = set(people)  # (only ctx.own's, when set: the scope of by="team" is then theirs alone)
    names = await _names(ctx, ids)
    rows = tuple(
        (names.get(i, f"#{i}"), people.get(i, 0), sent.get(i, 0), _pct(answered.get(i), sent.get(i)), alerts.get(i, 0), missing.get(i, 0))
        for i in sorted(ids, key=lambda i: (names.get(i, ""), i))
    )
    return Table("teams", "Hub teams", (
        Column("member", "Team member", "text"), Column("young_people", "Young people on their teams", "count"),
        Column("checkins_sent", "Check-ins sent", "count"), Column("checkin_answer_rate", "Check-in answer rate", "percent"),
        Column("alerts", "Alerts", "count"), Column("missing_episodes", "Missing episodes", "count"),
    ), rows)
