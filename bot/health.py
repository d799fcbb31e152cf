"""What this process knows about the parts it depends on: which are failing now, and since when."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.exc import DataError, DBAPIError, DisconnectionError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine

PROBE_TIMEOUT = 3.0


def database_unavailable(exc: BaseException) -> bool:
    """Say whether an error means the database is out of reach (so waiting and retrying will help)."""
    if isinstance(exc, (OperationalError, InterfaceError, OSError, asyncio.TimeoutError, PoolTimeout, DisconnectionError)):
        return True
    # asyncpg's "connection was closed in the middle of operation" arrives as a plain DBAPIError.
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def worth_waiting_for(exc: BaseException) -> bool:
    """Say whether an update that failed this way should wait for the database rather than be set aside.

    Anything from the database counts (an outage, a lost connection, a schema not yet migrated), except
    errors about one update's own data (a value too long, a broken constraint), which fail every time.
    """
    if database_unavailable(exc):
        return True
    return isinstance(exc, DBAPIError) and not isinstance(exc, (IntegrityError, DataError))


async def probe_database(engine: AsyncEngine) -> str | None:
    """Ask the database for SELECT 1, briefly; return None when it answers, else what went wrong."""
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        return type(exc).__name__
    return None


class Health:
    """Parts seen failing by the outbox, the scheduler and the live relay, cleared when they work again."""

    def __init__(self) -> None:
        self._failing: dict[str, tuple[datetime, str]] = {}

    def failed(self, part: str, reason: str, now: datetime) -> None:
        """Note that a part failed; the first failure's time is kept as 'since'."""
        since = self._failing.get(part, (now, reason))[0]
        self._failing[part] = (since, reason)

    def recovered(self, part: str) -> None:
        """Note that a part works again."""
        self._failing.pop(part, None)

    def failing(self) -> dict[str, dict[str, str]]:
        """Return each failing part with what went wrong and since when (ISO 8601)."""
        return {part: {"error": reason, "since": since.isoformat()} for part, (since, reason) in sorted(self._failing.items())}
