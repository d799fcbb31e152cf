"""Every kind of scheduled job and the function that runs it: one table, read by the scheduler."""

from __future__ import annotations

from bot.scheduler import JobHandler
from bot.services import appointment, checkin, escalation, leave
from bot.services.alert import ESCALATION_JOB, NOTIFY_JOB
from bot.services.settings import CHECKIN_JOB
from bot.services import wellbeing

JOB_HANDLERS: dict[str, JobHandler] = {
    appointment.REMINDER: appointment.remind,
    ESCALATION_JOB: escalation.run_escalation,
    NOTIFY_JOB: escalation.run_staff_notice,
    CHECKIN_JOB: checkin.run_checkin,
    checkin.NUDGE_JOB: checkin.run_nudge,
    checkin.MISS_JOB: checkin.run_miss,
    **leave.JOB_HANDLERS,  # leave_start, leave_end, cover_notice
    wellbeing.PROMPT_JOB: wellbeing.run_prompt,
}
