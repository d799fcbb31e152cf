"""Appointments: a worker makes, changes or calls one off and the young person is told; answers and outcomes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import Content
from bot.scheduler import do_cancel_jobs
from bot.services import hours
from bot.services.appointment_message import buttons, describe_when, details
from bot.services.appointment_reminder import do_plan_reminders
from bot.services.flag import do_raise_flag
from bot.services.message import do_queue_outbound
from bot.services.quiet import quiet_until
from models import Appointment, AppointmentAnswer, AppointmentStatus, Message, StaffMember, YoungPerson

FLAGS = {AppointmentAnswer.CANT: "appointment_cant", AppointmentAnswer.HELP: "appointment_help"}
OUTCOMES = (AppointmentStatus.ATTENDED, AppointmentStatus.MISSED, AppointmentStatus.CANCELLED)
FIELDS = ("what", "starts_at", "place", "with_whom", "notes")
_PRESS = re.compile(r"appt:(\d+):(\d+):(yes|cant|help|ics)")


class AppointmentError(ValueError):
    """An appointment that cannot be made or changed, with a message fit to show."""


@dataclass(frozen=True)
class Draft:
    """What a worker typed, checked: the appointment as it should be."""

    what: str
    starts_at: datetime
    place: str = ""
    with_whom: str = ""
    notes: str = ""


@dataclass(frozen=True)
class Press:
    """A tapped appointment button: which appointment, which revision of it, and the choice."""

    appointment_id: int
    revision: int
    choice: str


@dataclass(frozen=True)
class Wording:
    """What the actions need to word a message: the texts, the local time zone, the worker who acted."""

    content: Content
    tz: ZoneInfo
    worker: StaffMember


def parse_draft(
    *, what: str, day: str, at: str, place: str, with_whom: str, notes: str, now: datetime, tz: ZoneInfo
) -> Draft:
    """Check an appointment form and turn its local date and time into a moment."""
    what, place, with_whom, notes = what.strip(), place.strip(), with_whom.strip(), notes.strip()
    if not what:
        raise AppointmentError("Please say what the appointment is.")
    if max(len(what), len(place), len(with_whom)) > 200 or len(notes) > 2000:
        raise AppointmentError("That is too long: 200 characters at most, 2000 for the note.")
    try:
        clock = time.fromisoformat(at.strip())
        starts_at = hours.at_local(date.fromisoformat(day.strip()), clock.strftime("%H:%M"), tz)
    except ValueError:
        raise AppointmentError("Please give the date and the time.") from None
    if starts_at <= now:
        raise AppointmentError("That time has passed. Please choose a time still to come.")
    return Draft(what, starts_at.astimezone(UTC), place, with_whom, notes)


async def _tell(
    session: AsyncSession, now: datetime, young_person: YoungPerson, appointment: Appointment, key: str, words: Wording
) -> Message:
    content, language = words.content, young_person.language
    meta: dict[str, object] = {}
    if key != "appointment.cancelled":
        meta["buttons"] = buttons(content, language, appointment)
    if quiet_until(young_person, now, words.tz) is not None:
        meta["silent"] = True  # a worker's own action goes at once, but without a sound at night
    body = content.text(
        key,
        language,
        worker=words.worker.display_name,
        details=details(content, language, appointment, now, words.tz),
        what=appointment.what,
        when=describe_when(content, language, appointment.starts_at, now, words.tz),
    )
    return await do_queue_outbound(session, now, young_person, body=body, purpose=key, meta=meta)


async def do_create_appointment(
    session: AsyncSession, now: datetime, young_person: YoungPerson, draft: Draft, *, offsets: list[str], words: Wording
) -> tuple[Appointment, Message]:
    """Make an appointment, plan its reminders and tell the young person at once."""
    appointment = Appointment(
        young_person_id=young_person.id,
        created_by_id=words.worker.id,
        **{name: getattr(draft, name) for name in FIELDS},
        status=AppointmentStatus.SCHEDULED,
        revision=1,
        reminders=list(offsets),
        created_at=now,
        updated_at=now,
    )
    session.add(appointment)
    await session.flush()
    await do_plan_reminders(session, now, appointment, words.tz)
    return appointment, await _tell(session, now, young_person, appointment, "appointment.new", words)


def _check_planned(appointment: Appointment, now: datetime) -> None:
    if appointment.status != AppointmentStatus.SCHEDULED:
        raise AppointmentError(f"This appointment is {appointment.status}: it cannot be changed now.")
    if appointment.starts_at <= now:
        raise AppointmentError("This appointment has started. Please record how it went instead.")


async def do_update_appointment(
    session: AsyncSession, now: datetime, young_person: YoungPerson, appointment: Appointment, draft: Draft, words: Wording
) -> Message | None:
    """Change an appointment, plan its reminders again and tell the young person; None if nothing changed."""
    _check_planned(appointment, now)
    if all(getattr(appointment, name) == getattr(draft, name) for name in FIELDS):
        return None
    for name in FIELDS:
        setattr(appointment, name, getattr(draft, name))
    # Old buttons and reminders name the old plan: a new revision makes them stale.
    appointment.revision += 1
    appointment.answer, appointment.answered_at, appointment.updated_at = None, None, now
    await do_cancel_jobs(session, now, key_prefix=f"appt:{appointment.id}:")
    await session.flush()
    await do_plan_reminders(session, now, appointment, words.tz)
    return await _tell(session, now, young_person, appointment, "appointment.changed", words)


async def do_cancel_appointment(
    session: AsyncSession, now: datetime, young_person: YoungPerson, appointment: Appointment, words: Wording
) -> Message:
    """Call an appointment off, cancel its reminders and tell the young person."""
    _check_planned(appointment, now)
    appointment.status = AppointmentStatus.CANCELLED
    appointment.outcome_by_id, appointment.outcome_at, appointment.updated_at = words.worker.id, now, now
    await do_cancel_jobs(session, now, key_prefix=f"appt:{appointment.id}:")
    return await _tell(session, now, young_person, appointment, "appointment.cancelled", words)


async def do_record_outcome(
    session: AsyncSession, now: datetime, appointment: Appointment, *, outcome: str, staff: StaffMember
) -> None:
    """Record whether the young person went, once the time has come."""
    if outcome not in OUTCOMES:
        raise AppointmentError(f"Unknown outcome {outcome!r}: choose attended, missed or cancelled.")
    if appointment.starts_at > now:
        raise AppointmentError("You can record how it went once the time has come.")
    appointment.status = AppointmentStatus(outcome)
    appointment.outcome_by_id, appointment.outcome_at, appointment.updated_at = staff.id, now, now
    await do_cancel_jobs(session, now, key_prefix=f"appt:{appointment.id}:")
    await session.flush()


def parse_press(payload: str) -> Press | None:
    """Read the data of an appointment button, or None if it is not one of ours."""
    match = _PRESS.fullmatch(payload)
    return Press(int(match[1]), int(match[2]), match[3]) if match else None


def stale_key(appointment: Appointment | None, press: Press, now: datetime) -> str | None:
    """Name the kind answer for a button on an old message, or None if the button still counts."""
    if appointment is None or appointment.status == AppointmentStatus.CANCELLED:
        return "appointment.stale_cancelled"
    if appointment.status != AppointmentStatus.SCHEDULED or appointment.starts_at <= now:
        return "appointment.stale_over"
    if press.revision != appointment.revision:
        return "appointment.stale_changed"
    return None


async def find_for(session: AsyncSession, young_person_id: int, appointment_id: int) -> Appointment | None:
    """Load one of a young person's appointments; None for anyone else's."""
    appointment = await session.get(Appointment, appointment_id)
    return appointment if appointment and appointment.young_person_id == young_person_id else None


async def do_answer_appointment(
    session: AsyncSession, now: datetime, appointment: Appointment, answer: AppointmentAnswer
) -> None:
    """Record the young person's answer; can't-make-it and need-help raise a flag for the worker."""
    appointment.answer, appointment.answered_at = answer, now
    if kind := FLAGS.get(answer):
        await do_raise_flag(session, now, appointment.young_person_id, kind, appointment_id=appointment.id)
    await session.flush()


async def appointments_for(session: AsyncSession, young_person_id: int) -> list[Appointment]:
    """List a young person's appointments, soonest first."""
    rows = await session.scalars(
        select(Appointment)
        .where(Appointment.young_person_id == young_person_id)
        .order_by(Appointment.starts_at, Appointment.id)
    )
    return list(rows)
