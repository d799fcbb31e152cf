"""Reach: young people on caseloads, linked to a channel, who wrote, and who cannot be reached."""

from __future__ import annotations

from bot.services.indicators import message_weeks
from bot.services.indicators.figures import Group, figure
from bot.services.indicators.sql import MEDIAN, Ctx

# On a caseload in the window: added before it ended, not gone before it began, in scope at some time in it.
_ON = (
    "FROM young_people y JOIN grp ON y.created_at < grp.ge "
    "AND (y.left_service_at IS NULL OR y.left_service_at >= grp.gs) "
    "AND (y.erased_at IS NULL OR y.erased_at >= grp.gs) {during}"
)

# When each young person with a channel became unreachable: when every channel they have is blocked.
_BLOCKED = (
    "SELECT c.young_person_id AS yp, CASE WHEN COUNT(*) = SUM(CASE WHEN c.status = 'unreachable' THEN 1 ELSE 0 END) "
    "THEN MAX(c.unreachable_since) END AS since FROM channel_links c GROUP BY c.young_person_id"
)


async def compute(ctx: Ctx) -> Group:
    """Count who is on the caseloads, linked, writing, and unreachable (and for how long)."""
    on = _ON.format(during=ctx.join_during("y.id"))
    # Both counts from one pass over who was on a caseload: the linked ones are those linked before the window ended.
    on_caseload, linked = await ctx.by_group_many(
        f"{ctx.with_()} SELECT grp.g, COUNT(DISTINCT y.id), "
        f"COUNT(DISTINCT CASE WHEN y.linked_at IS NOT NULL AND y.linked_at < grp.ge THEN y.id END) {on} GROUP BY grp.g",
        2,
    )
    extra, wrote_rows = await message_weeks.writers(ctx)
    wrote = await ctx.by_group(f"{ctx.with_(*extra)} SELECT g, COUNT(DISTINCT yp) FROM ({wrote_rows}) AS w GROUP BY g")
    # Unreachable as of the window's end (or now, for a window still running): from the current state,
    # since a channel that works again keeps no history of having been blocked. Worked out once per young
    # person (the few unreachable ones kept), then joined to the windows.
    edge = f"CASE WHEN grp.ge < {ctx.ts(ctx.now)} THEN grp.ge ELSE {ctx.ts(ctx.now)} END"
    gone = (
        "gone AS MATERIALIZED (SELECT y.id AS yp, y.created_at, y.left_service_at, y.erased_at, "
        "CASE WHEN y.opted_out_at IS NOT NULL AND (u.since IS NULL OR y.opted_out_at < u.since) THEN y.opted_out_at ELSE u.since END AS since "
        f"FROM young_people y LEFT JOIN ({_BLOCKED}) u ON u.yp = y.id WHERE y.opted_out_at IS NOT NULL OR u.since IS NOT NULL)"
    )
    since = (
        f"SELECT DISTINCT grp.g AS g, y.yp AS yp, {edge} AS edge, y.since AS since FROM gone y "
        "JOIN grp ON y.created_at < grp.ge AND (y.left_service_at IS NULL OR y.left_service_at >= grp.gs) "
        f"AND (y.erased_at IS NULL OR y.erased_at >= grp.gs) {ctx.join_during('y.yp')}"
    )
    unreachable_rows = f"SELECT g, yp, edge, since FROM ({since}) AS s WHERE since < edge"
    (unreachable,), (days,) = await ctx.summary(
        f"{ctx.with_(gone)} SELECT g, {ctx.secs('since', 'edge')} / 86400.0 AS v FROM ({unreachable_rows}) AS ur",
        ("COUNT(*)",), (("1 = 1", MEDIAN),),
    )
    w = ctx.weeks
    return Group("reach", "Reach", (
        figure("reach.on_caseload", "Young people on caseloads", "count", on_caseload, w),
        figure("reach.linked", "Linked to a channel", "count", linked, w, True),
        figure("reach.messaged", "Sent at least one message", "count", wrote, w, True),
        figure("reach.unreachable", "Unreachable (blocked or opted out)", "count", unreachable, w, False),
        figure("reach.unreachable_days_median", "Unreachable for (median days)", "days", {g: round(v, 2) for g, v in days.items()}, w, False),
    ))
