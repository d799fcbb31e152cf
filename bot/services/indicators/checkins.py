"""Check-ins: sent, answered, the answer rate, and young people who missed three or more in a row."""

from __future__ import annotations

from bot.services.indicators.figures import Group, figure, ratio
from bot.services.indicators.sql import Ctx


async def compute(ctx: Ctx) -> Group:
    """Count check-ins sent and answered, and who had 3+ scheduled ones missed in a row."""
    sent, answered, missed = await ctx.by_group_many(ctx.counts(
        ("COUNT(*)", "COUNT(c.answered_at)", "SUM(CASE WHEN c.missed THEN 1 ELSE 0 END)"), "checkins c", "c.sent_at", "c.young_person_id",
    ), 3)
    # Each missed check-in was judged when it (or one before it) was decided: CheckIn.third_missed, kept by
    # bot.services.checkin.mark_misses_in_a_row, read here from a partial index of the few that were a third.
    in_a_row = await ctx.by_group(
        f"{ctx.with_()} SELECT grp.g, COUNT(DISTINCT c.young_person_id) FROM checkins c "
        f"JOIN {ctx.windows()} AS grp ON {ctx.in_group('c.sent_at')} {ctx.join_at('c.young_person_id', 'c.sent_at')} "
        "WHERE c.third_missed GROUP BY grp.g"
    )
    w = ctx.weeks
    return Group("checkins", "Check-ins", (
        figure("checkins.sent", "Check-ins sent", "count", sent, w),
        figure("checkins.answered", "Check-ins answered", "count", answered, w, True),
        figure("checkins.answer_rate", "Answer rate", "percent", ratio(answered, sent), w, True),
        figure("checkins.missed", "Check-ins missed", "count", missed, w, False),
        figure("checkins.missed_3_in_a_row", "Young people with 3+ missed in a row", "count", in_a_row, w, False),
    ))
