"""Retention: when a young person left the service, and the nightly job that erases closed cases after the period."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.scheduler import JobContext, Outcome, do_schedule_job, done
from bot.services.audit import do_audit
from bot.services.data_rights import do_erase_young_person
from bot.services.hours import at_local
from models import Job, StaffMember, YoungPerson

RETENTION_JOB = "retention"
RETENTION_AT = "03:00"  # local: a quiet hour for the database; nobody is messaged


def erase_on(young_person: YoungPerson, retention_days: int) -> datetime | None:
    """Say when retention erases a young person whose case is closed (None while it is open)."""
    if young_person.left_service_at is None or young_person.erased_at is not None:
        return None
    return young_person.left_service_at + timedelta(days=retention_days)


async def plan_retention(session: AsyncSession, now: datetime, tz: ZoneInfo) -> Job:
    """Make sure a retention sweep is planned for the next early morning."""
    day = now.astimezone(tz).date()
    due = at_local(day, RETENTION_AT, tz)
    if due <= now:
        day += timedelta(days=1)
        due = at_local(day, RETENTION_AT, tz)
    return await do_schedule_job(session, now, kind=RETENTION_JOB, key=f"{RETENTION_JOB}:{day.isoformat()}", due_at=due)


async def do_close_case(
    session: AsyncSession, now: datetime, young_person: YoungPerson, left_on: datetime, tz: ZoneInfo, *, staff: StaffMember
) -> None:
    """Record when a young person left the service; retention erases the record that long after."""
    young_person.left_service_at = left_on
    target = f"young_person:{young_person.id}"
    do_audit(session, now, "case_closed", actor_id=staff.id, young_person_id=young_person.id, target=target, left_on=left_on.isoformat())
    await session.flush()
    await plan_retention(session, now, tz)


async def do_reopen_case(session: AsyncSession, now: datetime, young_person: YoungPerson, *, staff: StaffMember) -> None:
    """Undo a recorded leaving date: the record is kept as for anyone in the service."""
    young_person.left_service_at = None
    do_audit(session, now, "case_reopened", actor_id=staff.id, young_person_id=young_person.id, target=f"young_person:{young_person.id}")
    await session.flush()


async def run_retention(ctx: JobContext) -> Outcome:
    """Erase every closed case past the retention period, then plan the next sweep while any wait."""
    settings = ctx.rt.settings
    cutoff = ctx.now - timedelta(days=settings.retention_days_after_leaving)
    due = list(
        await ctx.session.scalars(
            select(YoungPerson).where(YoungPerson.left_service_at <= cutoff, YoungPerson.erased_at.is_(None)).order_by(YoungPerson.id)
        )
    )
    erased = [young_person.id for young_person in due]
    for young_person in due:
        await do_erase_young_person(ctx.session, ctx.now, young_person, mode=settings.retention_erase, via="retention job")
    waiting = await ctx.session.scalar(
        select(YoungPerson.id).where(YoungPerson.left_service_at.is_not(None), YoungPerson.erased_at.is_(None)).limit(1)
    )
    if waiting is not None:
        await plan_retention(ctx.session, ctx.now, settings.tz)
    return done(f"{settings.retention_erase}: young people {erased}" if erased else "nothing due")
