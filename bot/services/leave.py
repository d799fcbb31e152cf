"""Working hours, leave and cover: who looks after a worker's caseload while they are away."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import Content
from bot.events import Event
from bot.scheduler import JobContext, JobHandler, Outcome, do_cancel_jobs, do_schedule_job, done, dropped
from bot.services import hours
from bot.services.audit import do_audit
from models import ChannelLink, Direction, LeavePeriod, Message, StaffMember, YoungPerson

log = logging.getLogger(__name__)

START_JOB, END_JOB, NOTICE_JOB = "leave_start", "leave_end", "cover_notice"
MAX_LEAVE_DAYS = 366
MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)


class LeaveError(ValueError):
    """A change to working hours or leave that cannot be made, with a message fit to show."""


def do_set_working_hours(staff: StaffMember, spans: dict[str, tuple[str, str] | None]) -> None:
    """Replace a worker's weekly working hours; a day given None (or left out) is a day off."""
    cleaned: dict[str, list[str]] = {}
    for day in hours.DAYS:
        span = spans.get(day)
        if not span or not (span[0].strip() or span[1].strip()):
            continue
        try:
            start, end = time.fromisoformat(span[0].strip()), time.fromisoformat(span[1].strip())
        except ValueError:
            raise LeaveError(f"Please give both times for {day.title()} as HH:MM, for example 09:00.") from None
        if start >= end:
            raise LeaveError(f"On {day.title()} the start ({start:%H:%M}) must be before the end ({end:%H:%M}).")
        cleaned[day] = [start.strftime("%H:%M"), end.strftime("%H:%M")]
    staff.working_hours = cleaned


def window(leave: LeavePeriod, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Return when a leave begins and ends: local midnight before its first day and after its last."""
    return hours.at_local(leave.starts_on, "00:00", tz), hours.at_local(leave.ends_on + timedelta(days=1), "00:00", tz)


def back_at(leave: LeavePeriod, worker: StaffMember, tz: ZoneInfo) -> datetime:
    """Return when the worker is back at work after a leave (the start of their next working day)."""
    end = window(leave, tz)[1]
    back = hours.next_start(worker.working_hours, end - timedelta(microseconds=1), tz)
    return back or end


def describe_day(content: Content, language: str, moment: datetime, tz: ZoneInfo) -> str:
    """Name a day in plain words: 'Monday 7 December'."""
    local = moment.astimezone(tz)
    return content.text(
        "team.day_month",
        language,
        weekday=content.text(f"time.{hours.DAY_KEYS[local.weekday()]}", language),
        day=local.day,
        month=content.text(f"team.months.{MONTHS[local.month - 1]}", language),
    )


async def active_leave(session: AsyncSession, staff_id: int) -> LeavePeriod | None:
    """Return the leave a worker is on now (their cover has started and not ended), if any."""
    return await session.scalar(
        select(LeavePeriod)
        .where(
            LeavePeriod.staff_id == staff_id,
            LeavePeriod.cover_started_at.is_not(None),
            LeavePeriod.cover_ended_at.is_(None),
        )
        .limit(1)
    )


async def leave_ahead(session: AsyncSession, staff_id: int, at: datetime, tz: ZoneInfo) -> LeavePeriod | None:
    """Return a planned leave of a worker that will be under way at a given moment."""
    day = at.astimezone(tz).date()
    return await session.scalar(
        select(LeavePeriod)
        .where(
            LeavePeriod.staff_id == staff_id,
            LeavePeriod.cover_started_at.is_(None),
            LeavePeriod.cover_ended_at.is_(None),
            LeavePeriod.starts_on <= day,
            LeavePeriod.ends_on >= day,
        )
        .limit(1)
    )


async def leaves_of(session: AsyncSession, staff_id: int, limit: int = 50) -> list[LeavePeriod]:
    """List a worker's leave, latest first."""
    rows = await session.scalars(
        select(LeavePeriod).where(LeavePeriod.staff_id == staff_id).order_by(LeavePeriod.starts_on.desc()).limit(limit)
    )
    return list(rows)


async def covering(session: AsyncSession, staff_id: int) -> list[tuple[LeavePeriod, StaffMember]]:
    """List the current and planned leaves a staff member covers, with the worker who is away."""
    rows = await session.execute(
        select(LeavePeriod, StaffMember)
        .join(StaffMember, StaffMember.id == LeavePeriod.staff_id)
        .where(LeavePeriod.cover_id == staff_id, LeavePeriod.cover_ended_at.is_(None))
        .order_by(LeavePeriod.starts_on)
    )
    return [(leave, worker) for leave, worker in rows.all()]


async def _open_overlapping(session: AsyncSession, column, staff_id: int, starts_on: date, ends_on: date) -> LeavePeriod | None:  # type: ignore[no-untyped-def]
    return await session.scalar(
        select(LeavePeriod)
        .where(
            column == staff_id,
            LeavePeriod.cover_ended_at.is_(None),
            LeavePeriod.starts_on <= ends_on,
            LeavePeriod.ends_on >= starts_on,
        )
        .limit(1)
    )


async def do_add_leave(
    session: AsyncSession,
    now: datetime,
    tz: ZoneInfo,
    worker: StaffMember,
    *,
    starts_on: date,
    ends_on: date,
    cover: StaffMember,
    by: StaffMember,
) -> LeavePeriod:
    """Record a worker's leave with a named cover; cover starts at once if the leave already has."""
    if ends_on < starts_on:
        raise LeaveError("The last day away must be on or after the first day away.")
    if (ends_on - starts_on).days >= MAX_LEAVE_DAYS:
        raise LeaveError(f"Leave can be at most {MAX_LEAVE_DAYS} days; record a longer absence as a handover.")
    if ends_on < now.astimezone(tz).date():
        raise LeaveError("That leave is already over.")
    if cover.id == worker.id:
        raise LeaveError("Please choose someone else to cover.")
    if not cover.active:
        raise LeaveError(f"{cover.display_name} no longer has an active account.")
    if (clash := await _open_overlapping(session, LeavePeriod.staff_id, worker.id, starts_on, ends_on)) is not None:
        raise LeaveError(f"{worker.display_name} already has leave from {clash.starts_on:%d %b} to {clash.ends_on:%d %b %Y}.")
    if await _open_overlapping(session, LeavePeriod.staff_id, cover.id, starts_on, ends_on) is not None:
        raise LeaveError(f"{cover.display_name} is away then too. Please choose someone else to cover.")
    if (duty := await _open_overlapping(session, LeavePeriod.cover_id, worker.id, starts_on, ends_on)) is not None:
        away = await session.get(StaffMember, duty.staff_id)
        raise LeaveError(
            f"{worker.display_name} is covering for {away.display_name if away else 'someone'} then. "
            "Please change that cover first."
        )
    leave = LeavePeriod(
        staff_id=worker.id, cover_id=cover.id, starts_on=starts_on, ends_on=ends_on, created_at=now, created_by_id=by.id
    )
    session.add(leave)
    await session.flush()
    do_audit(
        session, now, "cover_assigned", actor_id=by.id, target=f"staff:{cover.id}",
        away=worker.id, leave=leave.id, starts_on=starts_on.isoformat(), ends_on=ends_on.isoformat(),
    )
    starts_at, ends_at = window(leave, tz)
    if starts_at <= now:
        await do_start_cover(session, now, leave)
    else:
        await do_schedule_job(session, now, kind=START_JOB, key=f"leave:{leave.id}:start", due_at=starts_at, payload={"leave_id": leave.id})
    await do_schedule_job(session, now, kind=END_JOB, key=f"leave:{leave.id}:end", due_at=ends_at, payload={"leave_id": leave.id})
    log.info("leave %s recorded for staff %s by staff %s, cover staff %s", leave.id, worker.id, by.id, cover.id)
    return leave


async def do_start_cover(session: AsyncSession, now: datetime, leave: LeavePeriod) -> list[int]:
    """Hand the worker's caseload to the cover and queue a notice to each linked young person."""
    leave.cover_started_at = now
    people = list(
        await session.scalars(
            select(YoungPerson.id)
            .where(YoungPerson.key_worker_id == leave.staff_id)
            .where(select(ChannelLink.id).where(ChannelLink.young_person_id == YoungPerson.id).exists())
            .order_by(YoungPerson.id)
        )
    )
    for person_id in people:
        await do_schedule_job(
            session, now, kind=NOTICE_JOB, key=f"leave:{leave.id}:notice:{person_id}", due_at=now,
            young_person_id=person_id, payload={"leave_id": leave.id},
        )
    await session.flush()
    log.info("cover by staff %s started for staff %s (leave %s)", leave.cover_id, leave.staff_id, leave.id)
    return people


async def do_end_cover(session: AsyncSession, now: datetime, leave: LeavePeriod, *, by: StaffMember | None = None) -> None:
    """End a leave (or cancel it before it starts): the cover's access ends now."""
    if leave.cover_ended_at is not None:
        raise LeaveError("That leave has already ended.")
    leave.cover_ended_at = now
    leave.ended_by_id = by.id if by else None
    await do_cancel_jobs(session, now, key_prefix=f"leave:{leave.id}:")
    await session.flush()
    log.info("leave %s of staff %s ended (cover staff %s)", leave.id, leave.staff_id, leave.cover_id)


async def told_of_cover(session: AsyncSession, young_person_id: int, leave: LeavePeriod) -> bool:
    """Say whether the young person has been told who is answering during this leave."""
    if leave.cover_started_at is None:
        return False
    found = await session.scalar(
        select(Message.id)
        .where(
            Message.young_person_id == young_person_id,
            Message.direction == Direction.OUTBOUND,
            or_(
                Message.purpose == cover_purpose(leave),
                # Out-of-hours answers during a leave say who is covering too.
                (Message.purpose == "out_of_hours") & (Message.created_at >= leave.cover_started_at),
            ),
        )
        .limit(1)
    )
    return found is not None


def cover_purpose(leave: LeavePeriod) -> str:
    """Return the purpose stored on the message that tells a young person about a leave."""
    return f"cover:{leave.id}"


def leave_changed(leave: LeavePeriod) -> Event:
    """Make the live event that refreshes the caseloads of the worker and the cover."""
    # Both caseloads change: the cover gains (or loses) the worker's young people.
    return Event("caseload", 0, frozenset({f"staff:{leave.staff_id}", f"staff:{leave.cover_id}"}))


async def run_leave_start(ctx: JobContext) -> Outcome:
    """Start cover when a leave begins."""
    leave = await ctx.session.get(LeavePeriod, ctx.job.payload["leave_id"])
    if leave is None or leave.state != "planned":
        return dropped("leave cancelled or already started")
    people = await do_start_cover(ctx.session, ctx.now, leave)
    ctx.notices.append(leave_changed(leave))
    return done(f"{len(people)} young people told")


async def run_leave_end(ctx: JobContext) -> Outcome:
    """End cover when a leave is over."""
    leave = await ctx.session.get(LeavePeriod, ctx.job.payload["leave_id"])
    if leave is None or leave.state != "current":
        return dropped("leave not under way")
    await do_end_cover(ctx.session, ctx.now, leave)
    ctx.notices.append(leave_changed(leave))
    return done()


async def run_cover_notice(ctx: JobContext) -> Outcome:
    """Tell a young person who is answering while their worker is away, and until when."""
    leave = await ctx.session.get(LeavePeriod, ctx.job.payload["leave_id"])
    young_person = ctx.young_person
    if leave is None or leave.state != "current" or young_person is None:
        return dropped("leave no longer under way")
    if young_person.key_worker_id != leave.staff_id:
        return dropped("young person handed over to another worker")
    if await told_of_cover(ctx.session, young_person.id, leave):
        return dropped("already told")
    if (quiet := ctx.quiet_deferral()) is not None:
        return quiet
    worker = await ctx.session.get(StaffMember, leave.staff_id)
    cover = await ctx.session.get(StaffMember, leave.cover_id)
    assert worker is not None and cover is not None
    tz = ctx.rt.settings.tz
    await ctx.say(
        "team.cover_started",
        purpose=cover_purpose(leave),
        name=young_person.preferred_name,
        worker=worker.display_name,
        cover=cover.display_name,
        back=describe_day(ctx.rt.content, ctx.language, back_at(leave, worker, tz), tz),
    )
    return done()


JOB_HANDLERS: dict[str, JobHandler] = {
    START_JOB: run_leave_start,
    END_JOB: run_leave_end,
    NOTICE_JOB: run_cover_notice,
}
