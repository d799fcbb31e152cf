"""Workload: caseload size per key worker, messages staff sent, and cover given for colleagues on leave."""

from __future__ import annotations

from bot.services.indicators import message_weeks
from bot.services.indicators.figures import Group, figure
from bot.services.indicators.period import ScopeKind
from bot.services.indicators.sql import Ctx


async def compute(ctx: Ctx) -> Group:
    """Measure caseloads at the end of each window, messages sent by staff, and days of cover given."""
    kind, staff = ctx.scope.kind, int(ctx.scope.staff_id or 0)
    who = {ScopeKind.WORKER: f"AND st.staff_id = {staff}", ScopeKind.TEAM: (
        "AND EXISTS (SELECT 1 FROM team_members t WHERE t.young_person_id = y.id "
        f"AND t.staff_id = {staff} AND t.added_at < grp.ge AND (t.removed_at IS NULL OR t.removed_at >= grp.ge))"
    )}.get(kind, "")
    # Whose caseload each young person was on at the last moment of the window.
    young_people, workers = await ctx.by_group_many(
        f"WITH {ctx.groups()}, {ctx.stints()} SELECT grp.g, COUNT(DISTINCT y.id), COUNT(DISTINCT st.staff_id) "
        "FROM young_people y JOIN grp ON y.created_at < grp.ge AND (y.left_service_at IS NULL OR y.left_service_at >= grp.ge) "
        "AND (y.erased_at IS NULL OR y.erased_at >= grp.ge) JOIN stints st ON st.young_person_id = y.id "
        f"AND (st.start_at IS NULL OR st.start_at < grp.ge) AND (st.end_at IS NULL OR st.end_at >= grp.ge) {who} GROUP BY grp.g",
        2,
    )
    per_worker = {g: round(young_people[g] / n, 2) if n else None for g, n in workers.items() if young_people.get(g) is not None}
    # Messages the person in scope sent (to anyone they answered for, their own or covered); all staff's for the service.
    sent = ctx.zeros()
    sent.update(await message_weeks.staff_sent(ctx, None if kind == ScopeKind.SERVICE else staff))
    ended = f"COALESCE(l.cover_ended_at, {ctx.ts(ctx.now)})"
    lo = "CASE WHEN l.cover_started_at > grp.gs THEN l.cover_started_at ELSE grp.gs END"
    hi = f"CASE WHEN {ended} < grp.ge THEN {ended} ELSE grp.ge END"
    only = "" if kind == ScopeKind.SERVICE else f"AND l.cover_id = {staff}"
    cover = await ctx.by_group(
        f"WITH {ctx.groups()} SELECT grp.g, SUM({ctx.secs(lo, hi)}) / 86400.0 FROM leave_periods l JOIN grp "
        f"ON l.cover_started_at IS NOT NULL AND l.cover_started_at < grp.ge AND {ended} > grp.gs {only} GROUP BY grp.g"
    )
    cover = {g: round(v, 2) if v is not None else 0.0 for g, v in cover.items()}
    w = ctx.weeks
    return Group("workload", "Workload", (
        figure("workload.caseload_per_worker", "Caseload per key worker (at the end)", "count", per_worker, w),
        figure("workload.key_workers", "Key workers with a caseload", "count", workers, w),
        figure("workload.messages_sent", "Messages staff sent", "count", sent, w),
        figure("workload.cover_days", "Cover given (days)", "days", cover, w),
    ))
