"""The clock the service reads time from, replaceable in tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Return the current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        """Return the machine's current time in UTC."""
        return datetime.now(UTC)


class FrozenClock:
    """A clock that moves only when told to."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError(f"FrozenClock needs an aware datetime, got {at!r}")
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        """Return the frozen time."""
        return self._at

    def set(self, at: datetime) -> None:
        """Jump to a given time."""
        self._at = at.astimezone(UTC)

    def advance(self, **delta: float) -> None:
        """Move forward by a timedelta given as keyword arguments."""
        self._at += timedelta(**delta)
