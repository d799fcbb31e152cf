"""A rate limit that holds however slow the network is: at most N calls in any window, as the server counts them."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType


MIN_WAIT = 1e-6  # seconds


class WindowLimiter:
    """Allow a call only while fewer than `limit` calls are in flight or finished within the last `period` seconds.

    A server that counts the calls it received in the last second (Telegram's 30 a second) sees each
    call at some moment between its start and its answer. A leaky bucket spaced on start times
    (aiolimiter) is fooled by a few milliseconds of network jitter and bursts past the limit; this
    rule is not: a call that finished more than `period` ago also arrived more than `period` ago.
    Calls go first come, first served.
    """

    def __init__(
        self,
        limit: int,
        period: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if limit < 1 or period <= 0:
            raise ValueError(f"WindowLimiter needs limit >= 1 and period > 0, got {limit} per {period}")
        self.limit = limit
        self.period = period
        self._clock = clock
        self._sleep = sleep
        self._in_flight = 0
        self._free_at: deque[float] = deque()  # when each finished call stops counting
        self._turn = asyncio.Lock()
        self._answered = asyncio.Event()

    async def __aenter__(self) -> None:
        async with self._turn:
            while True:
                now = self._clock()
                while self._free_at and self._free_at[0] <= now:
                    self._free_at.popleft()
                if self._in_flight + len(self._free_at) < self.limit:
                    self._in_flight += 1
                    return
                if self._free_at:
                    # At least a microsecond: a gap below the clock's resolution must still move time on.
                    await self._sleep(max(self._free_at[0] - now, MIN_WAIT))
                else:  # every place is taken by a call still waiting for its answer
                    self._answered.clear()
                    await self._answered.wait()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # A refused or failed call counts too: the server may have counted it.
        self._in_flight -= 1
        self._free_at.append(self._clock() + self.period)
        self._answered.set()
