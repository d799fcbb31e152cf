"""Safeguarding alerts: by level and category, time to acknowledge, within 15 minutes, escalations."""

from __future__ import annotations

from datetime import timedelta

from bot.services.indicators.figures import TOTAL, Breakdown, Group, figure, ratio
from bot.services.indicators.sql import Ctx

ACK_TARGET = timedelta(minutes=15)


async def compute(ctx: Ctx) -> Group:
    """Count alerts and measure how fast a person picked them up."""
    join = f"FROM alerts a JOIN {ctx.windows()} AS grp ON {ctx.in_group('a.raised_at')} {ctx.join_at('a.young_person_id', 'a.raised_at')}"
    wait = ctx.secs("a.raised_at", "a.acknowledged_at")
    target = ACK_TARGET.total_seconds()
    # An alert still unacknowledged counts as late once 15 minutes have passed; before that it is undecided.
    decided = f"(a.acknowledged_at IS NOT NULL OR {ctx.secs('a.raised_at', ctx.ts(ctx.now))} >= {target})"
    raised, urgent, concern, never, decided_n, on_time, escalations, escalated = await ctx.by_group_many(ctx.counts(
        (
            "COUNT(*)", "SUM(CASE WHEN a.level = 'urgent' THEN 1 ELSE 0 END)", "SUM(CASE WHEN a.level = 'concern' THEN 1 ELSE 0 END)",
            "SUM(CASE WHEN a.acknowledged_at IS NULL THEN 1 ELSE 0 END)", f"SUM(CASE WHEN {decided} THEN 1 ELSE 0 END)",
            f"SUM(CASE WHEN a.acknowledged_at IS NOT NULL AND {wait} <= {target} THEN 1 ELSE 0 END)",
            "SUM(a.escalations)", "SUM(CASE WHEN a.escalations > 0 THEN 1 ELSE 0 END)",
        ),
        "alerts a", "a.raised_at", "a.young_person_id",
    ), 8)
    median, p90 = await ctx.percentiles(f"{ctx.with_()} SELECT grp.g AS g, {wait} AS v {join}")
    if ctx.dialect == "sqlite":
        each = "JOIN json_each(a.categories) AS je"
    else:
        each = "CROSS JOIN LATERAL json_array_elements_text(a.categories) AS je(value)"
    categories = await ctx.rows(
        f"{ctx.with_()} SELECT je.value, COUNT(*) {join} {each} WHERE grp.g = {TOTAL} GROUP BY je.value ORDER BY COUNT(*) DESC, je.value"
    )
    levels = (("Urgent", urgent.get(TOTAL) or 0), ("Concern", concern.get(TOTAL) or 0))
    w = ctx.weeks
    return Group(
        "safeguarding", "Safeguarding",
        (
            figure("safeguarding.alerts", "Alerts raised", "count", raised, w),
            figure("safeguarding.urgent", "Urgent alerts", "count", urgent, w),
            figure("safeguarding.concern", "Concern alerts", "count", concern, w),
            figure("safeguarding.ack_median", "Time to acknowledge, median", "seconds", median, w, False),
            figure("safeguarding.ack_p90", "Time to acknowledge, 90th percentile", "seconds", p90, w, False),
            figure("safeguarding.ack_within_15_min", "Acknowledged within 15 minutes", "percent", ratio(on_time, decided_n), w, True),
            figure("safeguarding.never_acknowledged", "Not acknowledged", "count", never, w, False),
            figure("safeguarding.escalations", "Escalations sent", "count", escalations, w, False),
            figure("safeguarding.escalated_alerts", "Alerts that escalated", "count", escalated, w, False),
        ),
        (
            Breakdown("safeguarding.by_level", "Alerts by level", tuple((k, float(v)) for k, v in levels)),
            Breakdown("safeguarding.by_category", "Alerts by category", tuple((str(k), float(v)) for k, v in categories)),
        ),
    )
