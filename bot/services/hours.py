"""Working hours: whether a worker is at work now, and when they are back."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.content import Content

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_KEYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _span(hours: dict[str, list[str]], day: date) -> tuple[time, time] | None:
    span = hours.get(DAYS[day.weekday()])
    if not span:
        return None
    return time.fromisoformat(span[0]), time.fromisoformat(span[1])


def is_working(hours: dict[str, list[str]], at: datetime, tz: ZoneInfo) -> bool:
    """Say whether a moment falls inside the working hours."""
    local = at.astimezone(tz)
    span = _span(hours, local)
    return span is not None and span[0] <= local.time() < span[1]


def next_start(hours: dict[str, list[str]], at: datetime, tz: ZoneInfo) -> datetime | None:
    """Return the next moment working hours begin after a given time, or None if never."""
    local = at.astimezone(tz)
    for offset in range(0, 15):
        day = (local + timedelta(days=offset)).date()
        span = _span(hours, day)
        if span is None:
            continue
        start = datetime.combine(day, span[0], tzinfo=tz)
        if start > local:
            return start
    return None


def last_end(hours: dict[str, list[str]], at: datetime, tz: ZoneInfo) -> datetime | None:
    """Return when working hours last ended at or before a given time."""
    local = at.astimezone(tz)
    for offset in range(0, 15):
        day = (local - timedelta(days=offset)).date()
        span = _span(hours, day)
        if span is None:
            continue
        end = datetime.combine(day, span[1], tzinfo=tz)
        if end <= local:
            return end
    return None


def at_local(day: date, hhmm: str, tz: ZoneInfo) -> datetime:
    """Return the moment a local wall-clock time happens on a day, right on both sides of a clock change."""
    local = datetime.combine(day, time.fromisoformat(hhmm), tzinfo=tz)
    # A time skipped by the spring change (e.g. 01:30) does not exist: use the same time after it.
    return local if local.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == local.replace(tzinfo=None) else local + timedelta(hours=1)


def clock_time(moment: datetime) -> str:
    """Write a time the British way: 9am, 5:30pm."""
    hour = moment.hour % 12 or 12
    suffix = "am" if moment.hour < 12 else "pm"
    return f"{hour}{suffix}" if moment.minute == 0 else f"{hour}:{moment.minute:02d}{suffix}"


def describe_when(content: Content, language: str, moment: datetime, now: datetime, tz: ZoneInfo) -> str:
    """Say when a moment is, relative to now, in plain words: 'tomorrow at 9am'."""
    local, today = moment.astimezone(tz), now.astimezone(tz).date()
    when = clock_time(local)
    days = (local.date() - today).days
    if days == 0:
        return content.text("time.today_at", language, time=when)
    if days == 1:
        return content.text("time.tomorrow_at", language, time=when)
    day = content.text(f"time.{DAY_KEYS[local.weekday()]}", language)
    return content.text("time.day_at", language, day=day, time=when)
