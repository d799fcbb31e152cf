"""A young person's settings: check-in days and time, quiet hours, and the one check-in job they drive."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.scheduler import do_schedule_job
from bot.services.hours import DAYS, at_local
from bot.services.quiet import validate_quiet_hours
from models import CheckInSchedule, Job, JobState, StaffMember, YoungPerson

CHECKIN_JOB = "checkin"
DEFAULT_TIME = "09:00"
# What a young person can pick in /settings: a few sensible times, none in the usual quiet hours.
TIME_CHOICES = ("08:00", "09:00", "10:00", "12:00", "16:00", "18:00", "20:00")
QUIET_START_CHOICES = ("20:00", "21:00", "21:30", "22:00", "23:00")
QUIET_END_CHOICES = ("06:00", "07:00", "08:00", "09:00", "10:00")
WEEKDAYS = DAYS[:5]


class SettingsError(ValueError):
    """A setting that cannot be saved, with a message fit to show a worker."""


def checkin_key_prefix(young_person_id: int) -> str:
    return f"checkin:{young_person_id}:"


def normalise_days(days: list[str] | tuple[str, ...]) -> list[str]:
    """Check weekday names ('mon'..'sun') and return them once each, in week order."""
    wanted = {day.strip().lower()[:3] for day in days if day.strip()}
    unknown = wanted - set(DAYS)
    if unknown:
        raise SettingsError(f"Unknown day {sorted(unknown)[0]!r}: use mon, tue, wed, thu, fri, sat or sun.")
    return [day for day in DAYS if day in wanted]


def normalise_time(hhmm: str) -> str:
    """Check a local 'HH:MM' time and return it normalised."""
    try:
        return time.fromisoformat(hhmm.strip()).strftime("%H:%M")
    except ValueError:
        raise SettingsError(f"{hhmm!r} is not a time: use HH:MM, for example 09:00.") from None


async def get_schedule(session: AsyncSession, young_person_id: int) -> CheckInSchedule | None:
    """Return a young person's check-in schedule, or None if none was ever set."""
    return await session.get(CheckInSchedule, young_person_id)


async def do_set_checkin_schedule(
    session: AsyncSession,
    now: datetime,
    young_person: YoungPerson,
    tz: ZoneInfo,
    *,
    days: list[str] | tuple[str, ...] | None = None,
    local_time: str | None = None,
    staff: StaffMember | None = None,
) -> CheckInSchedule:
    """Change the check-in days and/or time (None keeps the current value), then re-plan the next check-in."""
    new_days = normalise_days(days) if days is not None else None
    new_time = normalise_time(local_time) if local_time is not None else None
    schedule = await get_schedule(session, young_person.id)
    if schedule is None:
        schedule = CheckInSchedule(young_person_id=young_person.id, days=[], local_time=DEFAULT_TIME, updated_at=now)
        session.add(schedule)
    if new_days is not None:
        schedule.days = new_days
    if new_time is not None:
        schedule.local_time = new_time
    schedule.updated_at = now
    schedule.updated_by_id = staff.id if staff else None
    await session.flush()
    await do_plan_checkin(session, now, young_person.id, tz, schedule=schedule)
    return schedule


def normalise_quiet_hours(young_person: YoungPerson, start: str | None, end: str | None) -> tuple[str, str]:
    """Check new quiet hours (None keeps the current time) and return them normalised."""
    try:
        return validate_quiet_hours(start or young_person.quiet_start, end or young_person.quiet_end)
    except ValueError:
        raise SettingsError(f"Quiet hours need two times as HH:MM, got {start!r} and {end!r}.") from None


async def do_set_quiet_hours(
    session: AsyncSession, now: datetime, young_person: YoungPerson, *, start: str | None = None, end: str | None = None
) -> YoungPerson:
    """Change when quiet hours start and/or end (local 'HH:MM'); jobs check them when they fall due."""
    young_person.quiet_start, young_person.quiet_end = normalise_quiet_hours(young_person, start, end)
    await session.flush()
    return young_person


async def do_set_language(session: AsyncSession, now: datetime, young_person: YoungPerson, language: str) -> YoungPerson:
    """Change the language the bot and the web chat speak to a young person (a language content/ has)."""
    young_person.language = language
    await session.flush()
    return young_person


async def do_set_checkin_settings(
    session: AsyncSession,
    now: datetime,
    young_person: YoungPerson,
    tz: ZoneInfo,
    *,
    days: list[str],
    local_time: str,
    quiet_start: str | None,
    quiet_end: str | None,
    staff: StaffMember | None = None,
) -> CheckInSchedule:
    """Set schedule and quiet hours together: all are checked before anything changes."""
    days, local_time = normalise_days(days), normalise_time(local_time)
    quiet_start, quiet_end = normalise_quiet_hours(young_person, quiet_start, quiet_end)
    await do_set_quiet_hours(session, now, young_person, start=quiet_start, end=quiet_end)
    return await do_set_checkin_schedule(session, now, young_person, tz, days=days, local_time=local_time, staff=staff)


def occurrences(schedule: CheckInSchedule, after: datetime, tz: ZoneInfo, limit: int = 8) -> list[tuple[date, datetime]]:
    """List the next scheduled check-in moments strictly after a time, with their local dates."""
    if not schedule.days:
        return []
    found: list[tuple[date, datetime]] = []
    today = after.astimezone(tz).date()
    offset = 0
    while len(found) < limit and offset < 7 * limit + 1:
        day = today + timedelta(days=offset)
        offset += 1
        if DAYS[day.weekday()] not in schedule.days:
            continue
        moment = at_local(day, schedule.local_time, tz)
        if moment > after:
            found.append((day, moment))
    return found


def next_checkin(schedule: CheckInSchedule | None, after: datetime, tz: ZoneInfo) -> datetime | None:
    """Return when the next scheduled check-in is due after a time, or None if none are scheduled."""
    upcoming = occurrences(schedule, after, tz, limit=1) if schedule else []
    return upcoming[0][1] if upcoming else None


async def do_plan_checkin(
    session: AsyncSession,
    now: datetime,
    young_person_id: int,
    tz: ZoneInfo,
    *,
    schedule: CheckInSchedule | None = None,
) -> Job | None:
    """Keep exactly one pending check-in job for a young person: the next one their schedule asks for."""
    schedule = schedule or await get_schedule(session, young_person_id)
    # By young person and kind rather than by key prefix: the index on young_person_id serves it.
    await session.execute(
        update(Job)
        .where(Job.young_person_id == young_person_id, Job.kind == CHECKIN_JOB, Job.state == JobState.PENDING)
        .values(state=JobState.CANCELLED, finished_at=now)
        .execution_options(synchronize_session="fetch")
    )
    if schedule is None:
        return None
    prefix = checkin_key_prefix(young_person_id)
    for day, moment in occurrences(schedule, now, tz):
        payload = {"date": day.isoformat(), "due": moment.isoformat()}
        job = await do_schedule_job(
            session, now, kind=CHECKIN_JOB, key=f"{prefix}{day.isoformat()}", due_at=moment,
            young_person_id=young_person_id, payload=payload,
        )
        if job.state == JobState.PENDING:
            return job
        if job.state == JobState.CANCELLED:
            # Planned before and then cancelled by a change: bring the same row back.
            job.state, job.due_at, job.payload = JobState.PENDING, moment, payload
            job.finished_at = job.claimed_by = job.claimed_at = job.outcome = None
            await session.flush()
            return job
        # That day's check-in already ran (or is running): one a day at most.
    return None
