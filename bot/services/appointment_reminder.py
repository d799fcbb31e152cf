"""Appointment reminders: when they fall, planning them as jobs, and sending one when it is due."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.scheduler import JobContext, Outcome, do_schedule_job, done, dropped
from bot.services import hours
from bot.services.appointment_message import buttons, details
from bot.services.opt_out import PAUSED, is_paused
from models import Appointment, AppointmentStatus, Job, JobState

REMINDER = "appointment_reminder"
_OFFSET = re.compile(r"(\d+)d@(\d\d:\d\d)|(\d+)([hm])")


def reminder_times(starts_at: datetime, offsets: list[str], tz: ZoneInfo) -> list[tuple[str, datetime]]:
    """Say when each reminder falls, for offsets such as '1d@18:00' (local, days before) and '2h'."""
    local_day = starts_at.astimezone(tz).date()
    planned = []
    for offset in offsets:
        match = _OFFSET.fullmatch(offset)
        if match is None:
            raise ValueError(f"appointment reminder {offset!r} is not like '1d@18:00', '2h' or '30m'")
        days, hhmm, amount, unit = match.groups()
        if days is not None:
            # A wall-clock time: right on either side of a clock change.
            due = hours.at_local(local_day - timedelta(days=int(days)), hhmm, tz)
        else:
            due = starts_at - timedelta(**{"hours" if unit == "h" else "minutes": int(amount)})
        planned.append((offset, due.astimezone(UTC)))
    return planned


async def do_plan_reminders(session: AsyncSession, now: datetime, appointment: Appointment, tz: ZoneInfo) -> None:
    """Schedule the reminders of the appointment's current revision that are still to come."""
    for offset, due in reminder_times(appointment.starts_at, appointment.reminders, tz):
        if due <= now or due >= appointment.starts_at:
            continue  # already past when planned, or not before the start: no use
        await do_schedule_job(
            session,
            now,
            kind=REMINDER,
            key=f"appt:{appointment.id}:r{appointment.revision}:{offset}",
            due_at=due,
            young_person_id=appointment.young_person_id,
            payload={"appointment_id": appointment.id, "revision": appointment.revision, "planned_at": due.isoformat()},
        )


async def remind(ctx: JobContext) -> Outcome:
    """Send one reminder, unless the appointment changed, they sent /stop, it is quiet, or it would be too late."""
    payload = ctx.job.payload
    appointment = await ctx.session.get(Appointment, payload["appointment_id"])
    if appointment is None or appointment.status != AppointmentStatus.SCHEDULED:
        return dropped("appointment no longer planned")
    if appointment.revision != payload["revision"]:
        return dropped("appointment changed since planned")
    if ctx.now >= appointment.starts_at:
        return dropped("appointment already started")
    if is_paused(ctx.young_person):  # /stop
        return dropped(PAUSED)
    if (quiet := ctx.quiet_deferral()) is not None:
        if quiet.retry_at is not None and quiet.retry_at >= appointment.starts_at:
            return dropped("quiet hours last until after the start")
        return quiet
    if await _superseded(ctx, appointment):
        return dropped("a later reminder is due now")
    assert ctx.young_person is not None
    content, language = ctx.rt.content, ctx.language
    await ctx.say(
        "appointment.reminder",
        buttons=buttons(content, language, appointment),
        name=ctx.young_person.preferred_name,
        worker=ctx.key_worker.display_name if ctx.key_worker else "",
        details=details(content, language, appointment, ctx.now, ctx.rt.settings.tz),
    )
    appointment.reminder_sent = True  # committed with the message and the job's done state
    ctx.events.append(("appointment", {"appointment_id": appointment.id}))
    return done()


async def _superseded(ctx: JobContext, appointment: Appointment) -> bool:
    # Two reminders due at once (one held by quiet hours or a restart): only the later-planned one goes.
    others = await ctx.session.scalars(
        select(Job).where(
            Job.key.startswith(f"appt:{appointment.id}:r{appointment.revision}:", autoescape=True),
            Job.id != ctx.job.id,
            Job.state.in_([JobState.PENDING, JobState.RUNNING]),
            Job.due_at <= ctx.now,
        )
    )
    mine = datetime.fromisoformat(ctx.job.payload["planned_at"])
    return any(datetime.fromisoformat(job.payload["planned_at"]) > mine for job in others)


async def reminders_for(session: AsyncSession, young_person_id: int) -> dict[int, list[Job]]:
    """Map each of a young person's appointments to the reminders of its current revision, earliest first."""
    rows = await session.execute(
        select(Appointment.id, Appointment.revision).where(Appointment.young_person_id == young_person_id)
    )
    current = {appointment_id: revision for appointment_id, revision in rows}
    jobs = await session.scalars(
        select(Job).where(Job.kind == REMINDER, Job.young_person_id == young_person_id).order_by(Job.due_at, Job.id)
    )
    found: dict[int, list[Job]] = {}
    for job in jobs:
        appointment_id = job.payload.get("appointment_id")
        if current.get(appointment_id) == job.payload.get("revision"):
            found.setdefault(appointment_id, []).append(job)
    return found
