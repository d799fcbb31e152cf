"""Outcomes next to engagement: missing episodes, placement moves, crisis alerts, and who was in contact."""

from __future__ import annotations

from bot.services.indicators import message_weeks
from bot.services.indicators.figures import TOTAL, Breakdown, Group, figure
from bot.services.indicators.sql import MEDIAN, Ctx


async def compute(ctx: Ctx) -> Group:
    """Count missing episodes (and time to first contact), placement moves and crisis alerts."""
    episodes, open_ = await ctx.by_group_many(ctx.counts(
        ("COUNT(*)", "SUM(CASE WHEN e.ended_at IS NULL THEN 1 ELSE 0 END)"), "missing_episodes e", "e.started_at", "e.young_person_id",
    ), 2)
    (contact,) = await ctx.percentiles(
        f"{ctx.with_()} SELECT grp.g AS g, {ctx.secs('e.started_at', 'e.first_contact_at')} AS v FROM missing_episodes e "
        f"JOIN {ctx.windows()} AS grp ON {ctx.in_group('e.started_at')} {ctx.join_at('e.young_person_id', 'e.started_at')}",
        (MEDIAN,),
    )
    moves = await ctx.by_group(ctx.counts(("COUNT(*)",), "placement_moves p", "p.moved_at", "p.young_person_id"))
    crisis = await ctx.by_group(ctx.counts(("COUNT(*)",), "alerts a", "a.raised_at", "a.young_person_id", "a.level = 'urgent'"))
    # In regular contact over the period: wrote or answered a check-in in at least half its weeks.
    half = (ctx.weeks + 1) // 2
    # (Whoever's caseload they were on: the split is of the young people in scope, by their own contact.)
    extra, wrote = await message_weeks.writers(ctx, only=range(ctx.weeks), everyone=True)
    weeks_in_touch = (
        "touch AS (SELECT x.yp, COUNT(DISTINCT x.g) AS weeks FROM ("
        f"SELECT g, yp FROM ({wrote}) AS w UNION ALL "
        "SELECT grp.g, c.young_person_id FROM checkins c "
        f"JOIN {ctx.windows()} AS grp ON {ctx.in_group('c.answered_at')} AND grp.g >= 0 AND grp.g < {ctx.weeks} "
        f"WHERE c.answered_at IS NOT NULL AND c.answered_at >= {ctx.ts(ctx.period.start)} AND c.answered_at < {ctx.ts(ctx.period.end)}"
        ") AS x GROUP BY x.yp)"
    )
    people = (
        "people AS (SELECT DISTINCT y.id AS yp FROM young_people y "
        f"JOIN grp ON grp.g = {TOTAL} AND y.created_at < grp.ge AND (y.left_service_at IS NULL OR y.left_service_at >= grp.gs) "
        f"{ctx.join_during('y.id')}), "
        "counted AS (SELECT p.yp, CASE WHEN COALESCE(t.weeks, 0) >= "
        f"{half} THEN 1 ELSE 0 END AS regular, (SELECT COUNT(*) FROM missing_episodes e WHERE e.young_person_id = p.yp "
        f"AND e.started_at >= {ctx.ts(ctx.period.start)} AND e.started_at < {ctx.ts(ctx.period.end)}) AS missing "
        "FROM people p LEFT JOIN touch t ON t.yp = p.yp)"
    )
    split = await ctx.rows(
        f"{ctx.with_(*extra, weeks_in_touch, people)} SELECT regular, COUNT(*), SUM(missing) FROM counted GROUP BY regular"
    )
    rows = []
    for regular, people, missing in sorted(split, key=lambda r: -int(r[0])):
        name = "In regular contact" if regular else "Not in regular contact"
        rows.append((f"{name}: missing episodes per 10 young people ({int(people)} young people)", round(10 * float(missing) / int(people), 2) if people else 0.0))  # SUM is a Decimal on PostgreSQL
    w = ctx.weeks
    return Group(
        "outcomes", "Outcomes next to engagement",
        (
            figure("outcomes.missing_episodes", "Missing episodes", "count", episodes, w, False),
            figure("outcomes.missing_open", "Missing episodes still open", "count", open_, w, False),
            figure("outcomes.missing_first_contact_median", "Time to first contact when missing, median", "seconds", contact, w, False),
            figure("outcomes.placement_moves", "Placement moves", "count", moves, w, False),
            figure("outcomes.crisis_alerts", "Crisis (urgent) alerts", "count", crisis, w, False),
        ),
        (Breakdown("outcomes.missing_by_contact", "Missing episodes by regular contact", tuple(rows)),),
    )
