"""Responsiveness: how long a young person waits for a person to answer.

A wait starts at a young person's message whose previous human message (theirs or staff's, bots
ignored) was from staff, or who had written nothing before; it ends at the first staff message after it.
"""

from __future__ import annotations

from bot.services.indicators.figures import Group, figure, ratio
from bot.services.indicators.sql import Ctx


def waits(ctx: Ctx) -> str:
    """waits(young_person_id, asked_at, replied_at): one row per wait that started since the previous period began."""
    since = ctx.ts(ctx.period.previous_start)
    # The message before the first one in the span is looked up (once per young person) rather than scanned.
    before_span = (
        "(SELECT p.sender_kind FROM messages p WHERE p.young_person_id = h.young_person_id "
        f"AND p.sender_kind IN ('young_person', 'staff') AND p.created_at < {since} ORDER BY p.created_at DESC LIMIT 1)"
    )
    order = "PARTITION BY m.young_person_id ORDER BY m.created_at, m.id"
    backwards = "PARTITION BY m.young_person_id ORDER BY m.created_at DESC, m.id DESC"
    # Newest first, the first staff message after each one is a running minimum: two sorts and no join or
    # per-message lookup (a join or a lookup per message costs PostgreSQL far more).
    return (
        "human AS MATERIALIZED (SELECT m.young_person_id, m.created_at, m.sender_kind, "
        f"LAG(m.sender_kind) OVER ({order}) AS before, "
        f"MIN(CASE WHEN m.sender_kind = 'staff' THEN m.created_at END) OVER ({backwards} ROWS UNBOUNDED PRECEDING) AS replied_at "
        f"FROM messages m WHERE m.created_at >= {since} AND m.sender_kind IN ('young_person', 'staff')), "
        "waits AS MATERIALIZED (SELECT h.young_person_id, h.created_at AS asked_at, h.replied_at FROM human h "
        f"WHERE h.sender_kind = 'young_person' AND COALESCE(h.before, {before_span}, 'staff') = 'staff')"
    )


async def waits_table(ctx: Ctx) -> str:
    """Materialise every wait since the previous period began, with its length and working-day verdict."""
    wait = ctx.secs("w.asked_at", "w.replied_at")
    on_time = (
        f"CASE WHEN w.replied_at IS NOT NULL AND (CASE WHEN seg.working = 1 THEN {wait} <= seg.shift "
        f"ELSE w.replied_at <= seg.deadline END) THEN 1 "
        f"WHEN (CASE WHEN seg.working = 1 THEN {ctx.secs('w.asked_at', ctx.ts(ctx.now))} > seg.shift "
        f"ELSE {ctx.ts(ctx.now)} > seg.deadline END) THEN 0 END"
    )
    select = (
        f"WITH {waits(ctx)}, {ctx.segments()} SELECT w.young_person_id AS yp, w.asked_at, w.replied_at, {wait} AS v, "
        f"seg.working AS working, {on_time} AS on_time FROM waits w "
        f"JOIN seg ON seg.d = {ctx.utc_day('w.asked_at')} AND w.asked_at >= seg.ss AND w.asked_at < seg.se"
    )
    return await ctx.temp("waits", select, "yp, asked_at")


async def rows(ctx: Ctx, by: str = "") -> str:
    """(g, staff, wait seconds or NULL, working 0/1, within one working day 1/0/NULL while it may still be)."""
    table = await waits_table(ctx)
    return (
        f"{ctx.with_(by=by)} SELECT grp.g AS g, {'sc.staff_id' if by else 'NULL'} AS staff, w.v AS v, w.working AS working, w.on_time AS on_time "
        f"FROM {table} w JOIN grp ON {ctx.in_group('w.asked_at')} {ctx.join_at('w.yp', 'w.asked_at', by)}"
    )


async def compute(ctx: Ctx) -> Group:
    """Work out median and 90th percentile waits, overall and in working hours, and the share answered in a working day."""
    rows_ = await rows(ctx)
    median, p90 = await ctx.percentiles(f"SELECT g, v FROM ({rows_}) AS r")
    median_in, p90_in = await ctx.percentiles(f"SELECT g, v FROM ({rows_}) AS r WHERE working = 1")
    waits_, unanswered, decided, on_time = await ctx.by_group_many(
        f"SELECT g, COUNT(*), SUM(CASE WHEN v IS NULL THEN 1 ELSE 0 END), COUNT(on_time), SUM(on_time) "
        f"FROM ({rows_}) AS r GROUP BY g",
        4,
    )
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
