"""The period and scope a dashboard is computed for, its weeks, and the service's working week."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.services.hours import at_local
from models.staff import DEFAULT_WORKING_HOURS

PERIODS = ("week", "4weeks", "quarter", "custom")
MAX_DAYS = 366  # a custom period longer than a year is cut to a year


class ScopeKind(StrEnum):
    SERVICE = "service"
    TEAM = "team"  # the young people whose hub team a staff member is on
    WORKER = "worker"  # a key worker's caseload, at the time of each event


@dataclass(frozen=True)
class Scope:
    kind: ScopeKind = ScopeKind.SERVICE
    staff_id: int | None = None


@dataclass(frozen=True)
class Week:
    index: int
    start: datetime  # local Monday 00:00 (or the period's start), as UTC
    end: datetime


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC, cut into local weeks; the previous period is as long and ends at start."""

    name: str
    start: datetime
    end: datetime
    weeks: tuple[Week, ...]
    tz: ZoneInfo

    @property
    def previous_start(self) -> datetime:
        return self.start - (self.end - self.start)

    @property
    def first_day(self) -> date:
        return self.start.astimezone(self.tz).date()

    @property
    def last_day(self) -> date:
        return (self.end.astimezone(self.tz) - timedelta(microseconds=1)).date()


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return at_local(day, "00:00", tz).astimezone(ZoneInfo("UTC"))


def _weeks(start: datetime, end: datetime, tz: ZoneInfo) -> tuple[Week, ...]:
    weeks, cursor, index = [], start, 0
    while cursor < end:
        local = cursor.astimezone(tz).date()
        monday = local - timedelta(days=local.weekday())
        nxt = min(_midnight(monday + timedelta(days=7), tz), end)
        weeks.append(Week(index, cursor, nxt))
        cursor, index = nxt, index + 1
    return tuple(weeks)


def make_period(name: str, today: date, tz: ZoneInfo, first: date | None = None, last: date | None = None) -> Period:
    """Build a period from its name: this week, the last 4 whole weeks, the last whole quarter, or custom days."""
    monday = today - timedelta(days=today.weekday())
    if name == "week":
        first, last = monday, today
    elif name == "4weeks":
        first, last = monday - timedelta(days=28), monday - timedelta(days=1)
    elif name == "quarter":
        quarter_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        last = quarter_start - timedelta(days=1)
        first = date(last.year, 3 * ((last.month - 1) // 3) + 1, 1)
    elif name == "custom" and first is not None and last is not None:
        if last < first:
            first, last = last, first
        last = min(last, first + timedelta(days=MAX_DAYS - 1))
    else:
        raise ValueError(f"period {name!r} is not one of {', '.join(PERIODS)} (custom needs both days)")
    start, end = _midnight(first, tz), _midnight(last + timedelta(days=1), tz)
    return Period(name, start, end, _weeks(start, end, tz), tz)


@dataclass(frozen=True)
class Segment:
    """A stretch of time in one UTC day that is either working time or not, and its one-working-day deadline."""

    day: str  # UTC date "YYYY-MM-DD": lets the database join on equality
    start: datetime
    end: datetime
    working: bool
    shift_seconds: float | None  # in working time: the deadline is the same local time on the next working day
    deadline: datetime | None  # outside it: the end of the next working day


def working_segments(start: datetime, end: datetime, tz: ZoneInfo, hours: dict[str, list[str]] | None = None) -> list[Segment]:
    """Cut [start, end) into working and non-working stretches of the service's working week."""
    hours = hours or DEFAULT_WORKING_HOURS
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    utc = ZoneInfo("UTC")
    day, last = start.astimezone(tz).date() - timedelta(days=8), end.astimezone(tz).date() + timedelta(days=9)
    spans: list[tuple[datetime, datetime]] = []
    while day <= last:  # a week either side: every stretch has a working day before and after it
        span = hours.get(days[day.weekday()])
        if span:
            spans.append((at_local(day, span[0], tz).astimezone(utc), at_local(day, span[1], tz).astimezone(utc)))
        day += timedelta(days=1)
    pieces: list[tuple[datetime, datetime, bool, float | None, datetime | None]] = []
    for k in range(len(spans) - 1):
        s, e = spans[k]
        ns, ne = spans[k + 1]
        pieces.append((s, e, True, (ns - s).total_seconds(), None))
        pieces.append((e, ns, False, None, ne))
    segments = []
    for s, e, working, shift, deadline in pieces:
        s, e = max(s, start), min(e, end)
        while s < e:
            midnight = datetime.combine(s.date() + timedelta(days=1), datetime.min.time(), tzinfo=utc)
            cut = min(e, midnight)
            segments.append(Segment(s.date().isoformat(), s, cut, working, shift, deadline))
            s = cut
    if not segments or segments[0].start > start or segments[-1].end < end:
        raise ValueError(f"working week {hours!r} leaves {start} uncovered")
    return segments


def working_basis(tz: ZoneInfo, hours: dict[str, list[str]] | None = None) -> str:
    """Name the time zone and working week that working-hours verdicts were worked out in (the rollup keeps it)."""
    return f"{tz.key} {json.dumps(hours or DEFAULT_WORKING_HOURS, sort_keys=True, separators=(',', ':'))}"
