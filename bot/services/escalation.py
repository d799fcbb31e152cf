"""The jobs behind an alert: escalate until acknowledged, and tell staff on their own Telegram."""

from __future__ import annotations

from datetime import timedelta

from bot.events import Event
from bot.scheduler import JobContext, Outcome, do_schedule_job, done, dropped
from bot.services.alert import ESCALATION_JOB, escalation_recipients, schedule_notice
from models import Alert, AlertAction, StaffMember


async def run_escalation(ctx: JobContext) -> Outcome:
    """Escalate an unacknowledged alert to managers and the duty rota, and plan the next round."""
    alert = await ctx.session.get(Alert, ctx.job.payload["alert_id"])
    if alert is None or alert.closed_at is not None or alert.acknowledged_at is not None:
        return dropped("acknowledged before escalation")
    alert.escalations += 1
    alert.last_escalated_at = ctx.now
    recipients = await escalation_recipients(ctx.session, ctx.now)
    ctx.session.add(
        AlertAction(
            alert_id=alert.id, kind="escalated", at=ctx.now,
            note=f"round {alert.escalations} to staff {', '.join(str(s.id) for s in recipients) or 'nobody on the rota'}",
        )
    )
    for staff in recipients:
        await schedule_notice(ctx.session, ctx.now, alert, staff.id, round_=alert.escalations)
    # Escalation repeats until someone acknowledges: this is the next round.
    minutes = ctx.rt.settings.alert_escalation_minutes
    await do_schedule_job(
        ctx.session, ctx.now, kind=ESCALATION_JOB, key=f"alert:{alert.id}:escalate:{alert.escalations + 1}",
        due_at=ctx.now + timedelta(minutes=minutes), young_person_id=alert.young_person_id,
        payload={"alert_id": alert.id},
    )
    audience = frozenset(f"staff:{s.id}" for s in recipients)
    ctx.notices.append(Event("alert", alert.young_person_id, audience, {"alert_id": alert.id}))
    return done(f"escalation round {alert.escalations}")


async def run_staff_notice(ctx: JobContext) -> Outcome:
    """Send a staff member a short alert notice on their own Telegram: ids and a link, never words."""
    alert = await ctx.session.get(Alert, ctx.job.payload["alert_id"])
    staff = await ctx.session.get(StaffMember, ctx.job.payload["staff_id"])
    if alert is None or staff is None or not staff.active:
        return dropped("alert or staff member gone")
    if alert.acknowledged_at is not None and ctx.job.key.split(":")[-1] != "0":
        return dropped("acknowledged")
    if not staff.telegram_chat_id:
        return dropped("no Telegram linked")
    telegram = ctx.rt.telegram
    if telegram is None:
        return dropped("Telegram is not running")
    text = ctx.rt.content.text(
        "crisis.staff_notice" if alert.escalations == 0 else "crisis.staff_escalation",
        alert_id=alert.id,
        level=alert.level,
        url=f"{ctx.rt.settings.public_url}/alerts/{alert.id}",
    )
    # Raises on failure: the scheduler retries with backoff; the console banner does not depend on it.
    await telegram.send_direct(staff.telegram_chat_id, text)
    return done("sent")
