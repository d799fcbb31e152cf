"""The Telegram sender's global limit: never more calls in a second than the server allows, whatever the network does."""

from __future__ import annotations

import asyncio
import heapq
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.ratelimit import WindowLimiter


class VirtualTime:
    """A clock and a sleep in virtual seconds; run() moves time on whenever every task is waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self.now + max(seconds, 0.0), next(self._order), future))
        await future

    async def run(self, tasks: list[asyncio.Task[None]]) -> None:
        while not all(task.done() for task in tasks):
            for _ in range(20):  # let every task that can go on do so before time moves
                await asyncio.sleep(0)
            if self._timers:
                at, _, future = heapq.heappop(self._timers)
                self.now = max(self.now, at)
                future.set_result(None)
            elif not all(task.done() for task in tasks):
                raise AssertionError("every task waits and no timer is set: the limiter is stuck")
        for task in tasks:
            task.result()


def most_in_any_window(arrivals: list[float], period: float) -> int:
    """Return the most arrivals a server counting the last `period` seconds ever saw at once."""
    ordered = sorted(arrivals)
    return max(sum(1 for other in ordered if at - period < other <= at) for at in ordered)


@settings(max_examples=60, deadline=None)
@given(
    calls=st.lists(
        st.tuples(st.floats(0.001, 0.4), st.floats(0.0, 1.0)),  # how long the call takes; when in it the server counts it
        min_size=1,
        max_size=40,
    )
)
async def test_the_server_never_counts_more_than_the_limit_in_a_second_however_the_network_jitters(
    calls: list[tuple[float, float]],
) -> None:
    time = VirtualTime()
    limiter = WindowLimiter(5, 1.0, clock=time.clock, sleep=time.sleep)
    arrivals: list[float] = []

    async def call(duration: float, counted_at: float) -> None:
        async with limiter:
            await time.sleep(duration * counted_at)
            arrivals.append(time.now)
            await time.sleep(duration * (1 - counted_at))

    tasks = [asyncio.create_task(call(*c)) for c in calls]
    await time.run(tasks)

    assert len(arrivals) == len(calls)
    assert most_in_any_window(arrivals, 1.0) <= 5
    # Not slower than it must be: a full window of calls goes every second and a bit.
    longest = max(duration for duration, _ in calls)
    assert time.now <= (len(calls) // 5 + 1) * (1.0 + longest) + 1e-6


async def test_calls_answered_slowly_hold_their_places_until_a_second_after_their_answers() -> None:
    time = VirtualTime()
    limiter = WindowLimiter(2, 1.0, clock=time.clock, sleep=time.sleep)
    started: list[float] = []

    async def call(duration: float) -> None:
        async with limiter:
            started.append(time.now)
            await time.sleep(duration)

    tasks = [asyncio.create_task(call(d)) for d in (3.0, 0.5, 0.1)]
    await time.run(tasks)

    # The third waits for the second's answer (at 0.5) plus a second, although the first is still out.
    assert started == [0.0, 0.0, 1.5]
