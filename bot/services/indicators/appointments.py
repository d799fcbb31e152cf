"""Appointments by when they were due: reminded, confirmed, attended, missed, cancelled, attendance rate."""

from __future__ import annotations

from bot.services.appointment_reminder import REMINDER
from bot.services.indicators.figures import Group, figure, ratio
from bot.services.indicators.sql import Ctx


async def compute(ctx: Ctx) -> Group:
    """Count appointments due in each window by what happened to them."""
    # The appointments a reminder went out for: read once from the done reminder jobs (an uncorrelated IN: one hash
    # or index of them, each appointment looked up in it), not looked up per appointment.
    reminded = (
        f"(SELECT j.young_person_id, {ctx.json_num('j.payload', 'appointment_id')} FROM jobs j "
        f"WHERE j.kind = '{REMINDER}' AND j.state = 'done')"
    )
    total, was_reminded, confirmed, attended, missed, cancelled = await ctx.by_group_many(
        f"{ctx.with_()} SELECT grp.g, COUNT(*), SUM(CASE WHEN (a.young_person_id, a.id) IN {reminded} THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN a.answer = 'yes' THEN 1 ELSE 0 END), SUM(CASE WHEN a.status = 'attended' THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN a.status = 'missed' THEN 1 ELSE 0 END), SUM(CASE WHEN a.status = 'cancelled' THEN 1 ELSE 0 END) "
        f"FROM appointments a JOIN {ctx.windows()} AS grp ON {ctx.in_group('a.starts_at')} "
        f"{ctx.join_at('a.young_person_id', 'a.starts_at')} GROUP BY grp.g",
        6,
    )
    kept_or_not = {g: (attended.get(g) or 0) + (missed.get(g) or 0) for g in attended}
    w = ctx.weeks
    return Group("appointments", "Appointments", (
        figure("appointments.due", "Appointments due", "count", total, w),
        figure("appointments.reminded", "Reminded", "count", was_reminded, w),
        figure("appointments.confirmed", "Confirmed by the young person", "count", confirmed, w, True),
        figure("appointments.attended", "Attended", "count", attended, w, True),
        figure("appointments.missed", "Missed", "count", missed, w, False),
        figure("appointments.cancelled", "Cancelled", "count", cancelled, w),
        figure("appointments.attendance_rate", "Attendance rate", "percent", ratio(attended, kept_or_not), w, True),
    ))
