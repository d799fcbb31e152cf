"""Check-ins: sent, answered, the answer rate, and young people who missed three or more in a row."""

from __future__ import annotations

from bot.services.indicators.figures import Group, figure, ratio
from bot.services.indicators.sql import Ctx


async def compute(ctx: Ctx) -> Group:
    """Count check-ins sent and answered, and who had 3+ scheduled ones missed in a row."""
    sent, answered, missed = await ctx.by_group_many(
        f"{ctx.with_()} SELECT grp.g, COUNT(*), COUNT(c.answered_at), SUM(CASE WHEN c.missed THEN 1 ELSE 0 END) "
        f"FROM checkins c JOIN grp ON {ctx.in_group('c.sent_at')} {ctx.join_at('c.young_person_id', 'c.sent_at')} "
        "GROUP BY grp.g",
        3,
    )
    # Like missed_in_a_row(): an answer ends a run; a check-in neither answered nor missed (paused) does not.
    # So a missed check-in is at least the 3rd in a row when the two decided ones before it were missed too.
    two_before = (
        "(SELECT COUNT(*) FROM (SELECT p.missed FROM checkins p WHERE p.young_person_id = c.young_person_id "
        "AND p.sent_at < c.sent_at AND (p.missed OR p.answered_at IS NOT NULL) ORDER BY p.sent_at DESC LIMIT 2) AS b WHERE b.missed)"
    )
    in_a_row = await ctx.by_group(
        f"{ctx.with_()} SELECT grp.g, COUNT(DISTINCT c.young_person_id) FROM checkins c "
        f"JOIN grp ON {ctx.in_group('c.sent_at')} {ctx.join_at('c.young_person_id', 'c.sent_at')} "
        f"WHERE c.missed AND {two_before} = 2 GROUP BY grp.g"
    )
    w = ctx.weeks
    return Group("checkins", "Check-ins", (
        figure("checkins.sent", "Check-ins sent", "count", sent, w),
        figure("checkins.answered", "Check-ins answered", "count", answered, w, True),
        figure("checkins.answer_rate", "Answer rate", "percent", ratio(answered, sent), w, True),
        figure("checkins.missed", "Check-ins missed", "count", missed, w, False),
        figure("checkins.missed_3_in_a_row", "Young people with 3+ missed in a row", "count", in_a_row, w, False),
    ))
