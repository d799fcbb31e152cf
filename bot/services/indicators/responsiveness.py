"""Responsiveness: how long a young person waits for a person to answer.

A wait starts at a young person's message whose previous human message (theirs or staff's, bots
ignored) was from staff, or who had written nothing before; it ends at the first staff message after it.
"""

from __future__ import annotations

from datetime import datetime

from bot.services.indicators.figures import Group, figure, ratio
from bot.services.indicators.period import ScopeKind, working_basis
from bot.services.indicators.sql import MEDIAN, P90, Ctx, secs_sql, ts_literal, utc_day_sql


def wait_ctes(dialect: str, since: datetime | None, until: datetime | None = None, people: str = "") -> str:
    """CTEs human and waits(young_person_id, message_id, asked_at, replied_at): every wait starting in [since, until).

    replied_at is the first staff message after the wait began and before until (NULL while there is none).
    The rollup job builds reply_waits with this; the page uses it for the messages after the rollup's watermark.
    people: a query of the only young people whose waits are wanted (else everyone's).
    """
    bounds = ["m.sender_kind IN ('young_person', 'staff')"] + ([f"m.young_person_id IN ({people})"] if people else [])
    if since is not None:
        bounds.append(f"m.created_at >= {ts_literal(dialect, since)}")
    if until is not None:
        bounds.append(f"m.created_at < {ts_literal(dialect, until)}")
    # The message before the first one in the span is looked up (once per young person) rather than scanned.
    before_span = (
        "(SELECT p.sender_kind FROM messages p WHERE p.young_person_id = h.young_person_id "
        f"AND p.sender_kind IN ('young_person', 'staff') AND p.created_at < {ts_literal(dialect, since)} "
        "ORDER BY p.created_at DESC LIMIT 1), "
    ) if since is not None else ""
    order = "PARTITION BY m.young_person_id ORDER BY m.created_at, m.id"
    backwards = "PARTITION BY m.young_person_id ORDER BY m.created_at DESC, m.id DESC"
    # Newest first, the first staff message after each one is a running minimum: two sorts and no join or
    # per-message lookup (a join or a lookup per message costs PostgreSQL far more).
    return (
        "human AS MATERIALIZED (SELECT m.id, m.young_person_id, m.created_at, m.sender_kind, "
        f"LAG(m.sender_kind) OVER ({order}) AS before, "
        f"MIN(CASE WHEN m.sender_kind = 'staff' THEN m.created_at END) OVER ({backwards} ROWS UNBOUNDED PRECEDING) AS replied_at "
        f"FROM messages m WHERE {' AND '.join(bounds)}), "
        "waits AS MATERIALIZED (SELECT h.young_person_id, h.id AS message_id, h.created_at AS asked_at, h.replied_at FROM human h "
        f"WHERE h.sender_kind = 'young_person' AND COALESCE(h.before, {before_span}'staff') = 'staff')"
    )


# For a rolled-up wait with no reply before the watermark: the first staff message after it, if one came since.
FIRST_REPLY = (
    "(SELECT MIN(p.created_at) FROM messages p WHERE p.young_person_id = r.young_person_id AND p.sender_kind = 'staff' "
    "AND p.created_at >= r.asked_at AND (p.created_at > r.asked_at OR p.id > r.message_id))"
)


def verdicts(dialect: str, now: datetime | None) -> tuple[str, str]:
    """SQL for (wait seconds, within one working day) of waits w joined to their working-week segment seg.

    Within one working day: 1, or 0 once the deadline passed unanswered (by now; without now, only answered
    waits are judged), or NULL while it may still be.
    """
    wait = secs_sql(dialect, "w.asked_at", "w.replied_at")
    on_time = (
        f"CASE WHEN w.replied_at IS NOT NULL AND (CASE WHEN seg.working = 1 THEN {wait} <= seg.shift "
        "ELSE w.replied_at <= seg.deadline END) THEN 1 "
    )
    if now is None:
        on_time += "WHEN w.replied_at IS NOT NULL THEN 0 END"
    else:
        at = ts_literal(dialect, now)
        on_time += (
            f"WHEN (CASE WHEN seg.working = 1 THEN {secs_sql(dialect, 'w.asked_at', at)} > seg.shift "
            f"ELSE {at} > seg.deadline END) THEN 0 END"
        )
    return wait, on_time


def on_segment(dialect: str) -> str:
    """Join condition: seg is the working-week segment in which the wait w began."""
    return f"seg.d = {utc_day_sql(dialect, 'w.asked_at')} AND w.asked_at >= seg.ss AND w.asked_at < seg.se"


async def waits_table(ctx: Ctx) -> str:
    """Materialise every wait since the previous period began, with its length and working-day verdict.

    Waits that began before the rollup's watermark come from reply_waits, their length and verdict as the
    job worked them out (one without a reply there has it looked up, and judged here); the rest are worked
    out from the messages after the watermark, as with no rollup at all.
    """
    since = ctx.period.previous_start
    mark = await ctx.rollup_mark()
    wait, on_time = verdicts(ctx.dialect, ctx.now)
    judged = ""
    # For a worker's or team's page alone, only the waits of young people ever in the scope.
    people, scope = ("SELECT young_person_id FROM sc", ctx.scope_ctes()) if ctx.narrow else ("", [])
    if mark is not None and mark[0] > since:
        built_to, basis = mark
        span = f"r.asked_at >= {ctx.ts(since)} AND r.asked_at < {ctx.ts(built_to)}" + (f" AND r.young_person_id IN ({people})" if people else "")
        looked_up = (
            f"SELECT r.young_person_id, r.asked_at, CASE WHEN r.replied_at IS NOT NULL THEN r.replied_at ELSE {FIRST_REPLY} END "
            f"AS replied_at FROM reply_waits r WHERE {span}"
        )
        # seconds is set (by the job) exactly when the wait is answered and judged.
        # An answered wait's verdict is settled once it is answered, if judged in this working week and by
        # now (a page for a moment before the watermark judges again, as the raw rows would).
        if basis == working_basis(ctx.period.tz) and built_to <= ctx.now:
            looked_up += " AND r.seconds IS NULL"
            judged = (
                f"UNION ALL SELECT r.young_person_id AS yp, r.asked_at, {ctx.week_of('r.asked_at')} AS wg, r.replied_at, r.seconds AS v, "
                "CASE WHEN r.working THEN 1 ELSE 0 END AS working, CASE WHEN r.on_time THEN 1 ELSE 0 END AS on_time "
                f"FROM reply_waits r WHERE {span} AND r.seconds IS NOT NULL"
            )
        waits = f"{wait_ctes(ctx.dialect, built_to, people=people)}, every AS ({looked_up} UNION ALL SELECT young_person_id, asked_at, replied_at FROM waits)"
        source = "every"
    else:
        waits, source = wait_ctes(ctx.dialect, since, people=people), "waits"
    select = (
        f"WITH {', '.join([*scope, waits])}, {ctx.segments()} SELECT w.young_person_id AS yp, w.asked_at, {ctx.week_of('w.asked_at')} AS wg, "
        f"w.replied_at, {wait} AS v, "
        f"seg.working AS working, {on_time} AS on_time FROM {source} w JOIN seg ON {on_segment(ctx.dialect)} {judged}"
    )
    return await ctx.temp("waits", select)


async def rows(ctx: Ctx, by: str = "") -> str:
    """(g, staff, wait seconds or NULL, working 0/1, within one working day 1/0/NULL while it may still be)."""
    table = await waits_table(ctx)
    # Each wait's week is in the table: for the whole service it joins its windows on that alone.
    if not by and ctx.scope.kind == ScopeKind.SERVICE:
        windows = "gmap AS grp ON grp.wg = w.wg"
    else:
        windows = f"grp ON {ctx.in_group('w.asked_at', 'any')}"
    return (
        f"{ctx.with_(by=by)} SELECT grp.g AS g, {'sc.staff_id' if by else 'NULL'} AS staff, w.v AS v, w.working AS working, w.on_time AS on_time "
        f"FROM {table} w JOIN {windows} {ctx.join_at('w.yp', 'w.asked_at', by)}"
    )


async def compute(ctx: Ctx) -> Group:
    """Work out median and 90th percentile waits, overall and in working hours, and the share answered in a working day."""
    counts = ("COUNT(*)", "SUM(CASE WHEN v IS NULL THEN 1 ELSE 0 END)", "COUNT(on_time)", "SUM(on_time)")
    fractions = (("1 = 1", MEDIAN), ("1 = 1", P90), ("working = 1", MEDIAN), ("working = 1", P90))
    if ctx.scope.kind == ScopeKind.SERVICE:  # every wait counts: read the table by its week
        summed = await ctx.week_summary(await waits_table(ctx), counts, fractions)
    else:
        summed = await ctx.summary(await rows(ctx), counts, fractions)
    (waits_, unanswered, decided, on_time), (median, p90, median_in, p90_in) = summed
    w = ctx.weeks
    return Group("responsiveness", "Responsiveness", (
        figure("responsiveness.waits", "Times a young person waited for an answer", "count", waits_, w),
        figure("responsiveness.first_reply_median", "First reply, median", "seconds", median, w, False),
        figure("responsiveness.first_reply_p90", "First reply, 90th percentile", "seconds", p90, w, False),
        figure("responsiveness.first_reply_median_working", "First reply in working hours, median", "seconds", median_in, w, False),
        figure("responsiveness.first_reply_p90_working", "First reply in working hours, 90th percentile", "seconds", p90_in, w, False),
        figure("responsiveness.within_working_day", "Answered within one working day", "percent", ratio(on_time, decided), w, True),
        figure("responsiveness.unanswered", "Not answered yet", "count", unanswered, w, False),
    ))
