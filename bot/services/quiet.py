"""Quiet hours: no prompts or reminders at night, in the young person's local time."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from models import YoungPerson


def quiet_until(young_person: YoungPerson, at: datetime, tz: ZoneInfo) -> datetime | None:
    """Return when the quiet hours around a moment end, or None if it is not quiet then."""
    start, end = time.fromisoformat(young_person.quiet_start), time.fromisoformat(young_person.quiet_end)
    if start == end:
        return None
    local = at.astimezone(tz)
    now = local.time()
    if start < end:  # quiet within one day, e.g. 13:00-14:00
        inside = start <= now < end
        end_day = local.date()
    else:  # across midnight, e.g. 21:30-08:00
        inside = now >= start or now < end
        end_day = local.date() + timedelta(days=1) if now >= start else local.date()
    if not inside:
        return None
    # datetime.combine with tzinfo picks the right offset on either side of a clock change.
    return datetime.combine(end_day, end, tzinfo=tz)


def validate_quiet_hours(start: str, end: str) -> tuple[str, str]:
    """Check two 'HH:MM' times and return them normalised."""
    parsed = time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
    return parsed[0].strftime("%H:%M"), parsed[1].strftime("%H:%M")
