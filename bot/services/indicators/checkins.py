"""Check-ins: sent, answered, the answer rate, and young people who missed three or more in a row."""

from __future__ import annotations

from bot.services.indicators.figures import Group, figure, ratio
from bot.services.indicators.sql import Ctx


async def compute(ctx: Ctx) -> Group:
    """Count check-ins sent and answered, and who had 3+ scheduled ones missed in a row."""
    sent, answered, missed = await ctx.by_group_many(ctx.counts(
        ("COUNT(*)", "COUNT(c.answered_at)", "SUM(CASE WHEN c.missed THEN 1 ELSE 0 END)"), "checkins c", "c.sent_at", "c.young_person_id",
    ), 3)
    # Like missed_in_a_row(): an answer ends a run; a check-in neither answered nor missed (paused) does not.
    # So a missed check-in is at least the 3rd in a row when the two decided ones before it were missed too.
    # The decided check-ins since the previous period began are read once in order (a window); only where
    # the two before one are not both in that span, or share its time, are they looked up.
    two_before = (
        "(SELECT COUNT(*) FROM (SELECT p.missed FROM checkins p WHERE p.young_person_id = d.young_person_id "
        "AND p.sent_at < d.sent_at AND (p.missed OR p.answered_at IS NOT NULL) ORDER BY p.sent_at DESC LIMIT 2) AS b WHERE b.missed)"
    )
    order = "PARTITION BY c.young_person_id ORDER BY c.sent_at, c.id"
    decided = (
        f"decided AS (SELECT c.young_person_id, c.sent_at, c.missed, LAG(c.missed, 1) OVER ({order}) AS m1, "
        f"LAG(c.missed, 2) OVER ({order}) AS m2, LAG(c.sent_at, 1) OVER ({order}) AS t1 "
        f"FROM checkins c WHERE c.sent_at >= {ctx.ts(ctx.period.previous_start)} AND (c.missed OR c.answered_at IS NOT NULL))"
    )
    # Two decided ones before it in the span: m2 is set (missed is never NULL); t1 < sent_at: not sharing its time.
    from_window = "d.m2 IS NOT NULL AND d.t1 < d.sent_at"
    # Each check-in is judged once (its two before looked up at most once), before it is joined to its windows.
    third = (
        "third AS MATERIALIZED (SELECT d.young_person_id, d.sent_at FROM decided d "
        f"WHERE d.missed AND d.sent_at < {ctx.ts(ctx.period.end)} "
        f"AND CASE WHEN {from_window} THEN CASE WHEN d.m1 AND d.m2 THEN 2 ELSE 0 END ELSE {two_before} END = 2)"
    )
    in_a_row = await ctx.by_group(
        f"{ctx.with_(decided, third)} SELECT grp.g, COUNT(DISTINCT d.young_person_id) FROM third d "
        f"JOIN {ctx.windows()} AS grp ON {ctx.in_group('d.sent_at')} {ctx.join_at('d.young_person_id', 'd.sent_at')} "
        "GROUP BY grp.g"
    )
    w = ctx.weeks
    return Group("checkins", "Check-ins", (
        figure("checkins.sent", "Check-ins sent", "count", sent, w),
        figure("checkins.answered", "Check-ins answered", "count", answered, w, True),
        figure("checkins.answer_rate", "Answer rate", "percent", ratio(answered, sent), w, True),
        figure("checkins.missed", "Check-ins missed", "count", missed, w, False),
        figure("checkins.missed_3_in_a_row", "Young people with 3+ missed in a row", "count", in_a_row, w, False),
    ))
