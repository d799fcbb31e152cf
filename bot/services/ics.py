"""Calendar files (.ics, RFC 5545) for an appointment: written in local time with its time zone, and sent."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import Content
from bot.services.appointment_message import extra_lines
from bot.services.message import do_queue_outbound, do_store_media
from models import Appointment, AppointmentStatus, ChannelLink, ContentKind, Message, YoungPerson

MIME_TYPE = "text/calendar"
# An appointment has a start but no end; calendars need one.
LENGTH = timedelta(hours=1)


def file_name(appointment: Appointment) -> str:
    """Name the file the young person receives."""
    return f"appointment-{appointment.id}.ics"


def calendar_file(
    content: Content, language: str, appointment: Appointment, *, now: datetime, tz: ZoneInfo, public_url: str
) -> bytes:
    """Write one appointment as a calendar file a phone can add, starting at its local time."""
    calendar = Calendar()
    calendar.add("prodid", "-//Keyworker//Appointments//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    # Same UID and a rising SEQUENCE: importing an edited file updates the event instead of adding one.
    event.add("uid", f"appointment-{appointment.id}@{urlsplit(public_url).hostname or 'keyworker'}")
    event.add("sequence", appointment.revision)
    event.add("dtstamp", now)
    start = appointment.starts_at.astimezone(tz)
    event.add("dtstart", start)
    event.add("dtend", start + LENGTH)
    event.add("summary", appointment.what)
    if appointment.place:
        event.add("location", appointment.place)
    if description := "\n".join(extra_lines(content, language, appointment, ("with_whom", "notes"))):
        event.add("description", description)
    event.add("status", "CANCELLED" if appointment.status == AppointmentStatus.CANCELLED else "CONFIRMED")
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()


async def do_queue_calendar(
    session: AsyncSession,
    now: datetime,
    young_person: YoungPerson,
    appointment: Appointment,
    *,
    content: Content,
    tz: ZoneInfo,
    public_url: str,
    link: ChannelLink | None = None,
) -> Message:
    """Queue the calendar file to the young person: a document with a line of text, its bytes kept as media."""
    language = young_person.language
    data = calendar_file(content, language, appointment, now=now, tz=tz, public_url=public_url)
    message = await do_queue_outbound(
        session,
        now,
        young_person,
        body=content.text("appointment.calendar_file", language, what=appointment.what),
        purpose="appointment.calendar",
        link=link,
        meta={"attachment": True, "file_name": file_name(appointment), "mime_type": MIME_TYPE, "size": len(data)},
    )
    message.content_kind = ContentKind.DOCUMENT
    await do_store_media(session, now, message, data, MIME_TYPE)
    return message
