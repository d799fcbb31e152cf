"""How an appointment is put to the young person: when it is, its details, and the buttons under it."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.content import Content
from bot.services import hours
from models import Appointment

CALENDAR = "ics"  # the button choice that asks for a calendar file
Buttons = list[list[dict[str, str]]]


def describe_when(content: Content, language: str, moment: datetime, now: datetime, tz: ZoneInfo) -> str:
    """Say when an appointment is in plain words: 'tomorrow at 3pm', 'on Friday 11 December at 3pm'."""
    local = moment.astimezone(tz)
    if (local.date() - now.astimezone(tz).date()).days in (0, 1):
        return hours.describe_when(content, language, moment, now, tz)
    return content.text(
        "appointment.date_at",
        language,
        day=content.text(f"time.{hours.DAY_KEYS[local.weekday()]}", language),
        date=local.day,
        month=content.text(f"appointment.month_{local.month}", language),
        time=hours.clock_time(local),
    )


def details(content: Content, language: str, appointment: Appointment, now: datetime, tz: ZoneInfo) -> str:
    """Write out an appointment as short lines, leaving out what the worker left empty."""
    when = describe_when(content, language, appointment.starts_at, now, tz)
    lines = [
        content.text("appointment.line_what", language, what=appointment.what),
        content.text("appointment.line_when", language, when=when),
    ]
    return "\n".join(lines + extra_lines(content, language, appointment, ("place", "with_whom", "notes")))


def extra_lines(content: Content, language: str, appointment: Appointment, fields: tuple[str, ...]) -> list[str]:
    """Word the optional fields that are filled in: where, with whom, the note."""
    keys = {"place": "line_where", "with_whom": "line_with", "notes": "line_notes"}
    return [
        content.text(f"appointment.{keys[field]}", language, **{field: value})
        for field in fields
        if (value := getattr(appointment, field))
    ]


def buttons(content: Content, language: str, appointment: Appointment) -> Buttons:
    """Offer the answers and the calendar file, each tied to this revision of the appointment."""
    prefix = f"appt:{appointment.id}:{appointment.revision}"
    return [
        [{"label": content.text(f"appointment.button_{label}", language), "data": f"{prefix}:{choice}"}]
        for label, choice in (("yes", "yes"), ("cant", "cant"), ("help", "help"), ("calendar", CALENDAR))
    ]
