"""Appointments by when they were due: reminded, confirmed, attended, missed, cancelled, attendance rate."""

from __future__ import annotations

from bot.services.indicators.figures import Group, figure, ratio
from bot.services.indicators.sql import Ctx


async def compute(ctx: Ctx) -> Group:
    """Count appointments due in each window by what happened to them (reminded: a reminder was sent, set when it went)."""
    total, was_reminded, confirmed, attended, missed, cancelled = await ctx.by_group_many(ctx.counts(
        (
            "COUNT(*)", "SUM(CASE WHEN a.reminder_sent THEN 1 ELSE 0 END)", "SUM(CASE WHEN a.answer = 'yes' THEN 1 ELSE 0 END)",
            "SUM(CASE WHEN a.status = 'attended' THEN 1 ELSE 0 END)", "SUM(CASE WHEN a.status = 'missed' THEN 1 ELSE 0 END)",
            "SUM(CASE WHEN a.status = 'cancelled' THEN 1 ELSE 0 END)",
        ),
        "appointments a", "a.starts_at", "a.young_person_id",
    ), 6)
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
