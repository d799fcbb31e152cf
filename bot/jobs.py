"""Every kind of scheduled job and the function that runs it: one table, read by the scheduler."""

from __future__ import annotations

from bot.scheduler import JobHandler
from bot.services import appointment_reminder, checkin, escalation, leave, missing
from bot.services.alert import ESCALATION_JOB, NOTIFY_JOB
from bot.services.settings import CHECKIN_JOB
from bot.services import listened, retention, wellbeing_plan
from bot.services.indicators import kept, rollup

JOB_HANDLERS: dict[str, JobHandler] = {
    appointment_reminder.REMINDER: appointment_reminder.remind,
    ESCALATION_JOB: escalation.run_escalation,
    NOTIFY_JOB: escalation.run_staff_notice,
    missing.CHECK_JOB: missing.run_missing_check,
    CHECKIN_JOB: checkin.run_checkin,
    checkin.FOLLOW_UP_JOB: checkin.run_follow_up,
    **leave.JOB_HANDLERS,  # leave_start, leave_end, cover_notice
    wellbeing_plan.PROMPT_JOB: wellbeing_plan.run_prompt,
    listened.JOB: listened.run_listened,  # 'did you feel listened to?', the day after a conversation
    retention.RETENTION_JOB: retention.run_retention,  # erases closed cases past the retention period
    rollup.ROLLUP_JOB: rollup.run_rollup,  # carries the dashboard's reply-wait rollup forward, every 5 minutes
    kept.REFRESH_JOB: kept.run_refresh,  # works out again the dashboard views people are looking at, every minute
}

# Jobs that take seconds at council scale and are about no young person: the scheduler runs them in a lane of their
# own, so an alert's staff notice or an escalation claimed with them does not wait behind them.
ASIDE: frozenset[str] = frozenset({rollup.ROLLUP_JOB, kept.REFRESH_JOB})
