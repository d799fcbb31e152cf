"""Limits on calls to a server: at most N in any window as the server counts them, and as many at once as the latency says are worth it."""

from __future__ import annotations

import asyncio
import math
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


class LatencyLimit:
    """Let as many calls run at once as the latency says are worth it: more while answers come back as
    fast as the quickest lately, fewer once they queue (TCP Vegas's rule, applied to calls in flight).

    Every call in flight costs CPU in the HTTP client's pool at every turn, so against a server next
    door (answering in a millisecond) one or two at once get through more than eight. Against
    Telegram, 50-300 ms away, a few must overlap to keep 30 a second going. Each round of `limit`
    answers while the limit was in use compares their mean latency with the quickest lately: the
    calls queued somewhere (our own event loop, the network, the server) are about
    `limit * (1 - quickest / mean)`; fewer than `alpha` and the limit grows by one, more than `beta`
    and it shrinks by one. It never falls below what Little's law needs for `floor_rate` calls a
    second at the latency seen (so Telegram's 30 a second is kept whatever the jitter), nor rises
    above `maximum`. Callers time only the call itself (`release(seconds)`), not waits for other
    limits. Calls go first come, first served.
    """

    def __init__(
        self,
        *,
        initial: int = 4,
        maximum: int = 16,
        floor_rate: float = 30.0,
        window: int = 200,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= initial <= maximum:
            raise ValueError(f"LatencyLimit needs 1 <= initial <= maximum, got {initial} and {maximum}")
        self.limit = initial
        self.maximum = maximum
        self.floor_rate = floor_rate
        self.clock = clock
        self._window = window  # answers after which the quickest is looked for afresh (a slower route is learnt)
        self._in_flight = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._quickest_now = math.inf  # this window's quickest answer
        self._quickest_before = math.inf  # the last window's
        self._seen = 0
        self._smoothed: float | None = None  # latency, moving average
        self._round_total = 0.0
        self._round_count = 0
        self._round_full = False  # the limit held a call back during this round

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def quickest(self) -> float:
        """The quickest answer lately: the latency with nothing queued."""
        return min(self._quickest_now, self._quickest_before)

    def floor(self) -> int:
        """Fewest calls in flight that keep `floor_rate` a second going at the latency seen (Little's law,
        with half again for the latency's swings)."""
        if self._smoothed is None:
            return 1
        return max(1, math.ceil(1.5 * self.floor_rate * self._smoothed))

    async def acquire(self) -> None:
        """Wait for a place among the calls in flight."""
        if self._in_flight < self.limit and not self._waiting:
            self._in_flight += 1
            self._round_full |= self._in_flight >= self.limit
            return
        self._round_full = True
        future = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        try:
            await future  # the place is handed over by release(), already counted
        except BaseException:
            if future.done() and not future.cancelled():
                self.release(None)  # handed a place just as the wait was cancelled: give it on
            elif future in self._waiting:
                self._waiting.remove(future)
            raise

    def release(self, seconds: float | None) -> None:
        """Give back a place; `seconds` is how long the call took (None if it never got an answer)."""
        self._in_flight -= 1
        if seconds is not None:
            self._observe(seconds)
        if self._waiting:
            self._round_full = True  # calls are waiting: the limit holds them back
        while self._waiting and self._in_flight < self.limit:
            future = self._waiting.popleft()
            if not future.done():
                self._in_flight += 1
                future.set_result(None)

    def _observe(self, seconds: float) -> None:
        self._quickest_now = min(self._quickest_now, seconds)
        self._seen += 1
        if self._seen >= self._window:
            self._quickest_before, self._quickest_now, self._seen = self._quickest_now, math.inf, 0
        self._smoothed = seconds if self._smoothed is None else 0.9 * self._smoothed + 0.1 * seconds
        self._round_total += seconds
        self._round_count += 1
        if self._round_count < self.limit:
            return
        mean = self._round_total / self._round_count
        full = self._round_full
        self._round_total, self._round_count, self._round_full = 0.0, 0, self._in_flight >= self.limit
        self.limit = min(self.maximum, max(self.limit, self.floor()))
        if not full:
            return  # never reached: the latency says nothing about more calls at once
        queued = self.limit * (1 - self.quickest / mean) if mean > 0 else 0.0
        scale = max(1.0, math.log10(self.limit))
        if queued < 3 * scale - 2 and self.limit < self.maximum:  # alpha: 1 up to a limit of 10, 1.6 at 16
            self.limit += 1
        elif queued > 6 * scale - 4:  # beta: 2 up to a limit of 10, 3.2 at 16
            self.limit -= 1
        self.limit = min(self.maximum, max(self.limit, self.floor()))
