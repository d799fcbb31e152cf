"""How many Telegram sends go at once: few against a Bot API next door, enough against one far away.

Virtual time throughout: a model server answers each call after a latency that depends on how many
calls it holds, and the clock jumps from one answer to the next.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections.abc import Callable

import pytest

from bot.channels.ratelimit import LatencyLimit


class Server:
    """Calls through a LatencyLimit in virtual time; `latency(in_flight)` is how long an answer takes."""

    def __init__(self, latency: Callable[[int], float], **limit: float) -> None:
        self.now = 0.0
        self.latency = latency
        self.limit = LatencyLimit(clock=lambda: self.now, **limit)  # type: ignore[arg-type]
        self.answers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self.limits: list[int] = []  # the limit after each answer
        self.most_at_once = 0

    async def call(self) -> None:
        await self.limit.acquire()
        started = self.now
        self.most_at_once = max(self.most_at_once, self.limit.in_flight)
        answered = asyncio.get_running_loop().create_future()
        heapq.heappush(self.answers, (self.now + self.latency(self.limit.in_flight), next(self._order), answered))
        await answered
        self.limit.release(self.now - started)
        self.limits.append(self.limit.limit)

    async def run(self, calls: int) -> None:
        """Make `calls` calls, all wanting to go at once (a queue of replies), and answer them in time order."""
        tasks = [asyncio.create_task(self.call()) for _ in range(calls)]
        while not all(task.done() for task in tasks):
            for _ in range(5):
                await asyncio.sleep(0)
            if self.answers:
                at, _, answered = heapq.heappop(self.answers)
                self.now = max(self.now, at)
                answered.set_result(None)
        for task in tasks:
            task.result()


async def test_against_a_bot_api_next_door_only_two_to_four_sends_go_at_once() -> None:
    # The answer waits on our own CPU: a millisecond for the call itself, and some part of another
    # millisecond for each other call in flight (however much of their work comes first).
    turns = random.Random(5)
    server = Server(lambda in_flight: 0.001 * (1 + turns.random() * (in_flight - 1)), initial=8)
    await server.run(1_000)
    assert 2 <= min(server.limits[-500:]) and max(server.limits[-500:]) <= 4, server.limits[-500:]


async def test_against_a_bot_api_far_away_it_grows_while_the_answers_come_as_fast() -> None:
    # Telegram 150 ms away, not slowed by a few more calls: more at once is all gain, up to the maximum.
    server = Server(lambda in_flight: 0.150, initial=2)
    await server.run(600)
    assert server.limits[-1] == server.most_at_once == 16
    assert server.limits == sorted(server.limits)  # it only grew
    assert server.now < 600 * 0.150 / 8  # so 600 sends took less than a fixed eight at a time would


async def test_it_shrinks_again_once_answers_start_to_queue() -> None:
    # A far server that copes with eight at once and queues the rest behind them.
    server = Server(lambda in_flight: 0.100 * max(1.0, in_flight / 8), initial=2)
    await server.run(400)
    assert max(server.limits) > 9  # it went past what the server copes with...
    assert 7 <= server.limits[-1] <= 10, server.limits[-50:]  # ...and came back to about it


async def test_jitter_never_takes_it_below_what_thirty_a_second_needs() -> None:
    # Latency from 50 to 300 ms whatever the load: to Vegas's rule that looks like queueing, so it would
    # shrink to two (eight a second at 250 ms); Little's law keeps 30 a second's worth in flight.
    jitter = random.Random(3)
    server = Server(lambda in_flight: jitter.choice([0.05, 0.1, 0.15, 0.3]), initial=2, floor_rate=30)
    await server.run(1_000)
    assert min(server.limits[100:]) >= 5
    assert 1_000 / server.now >= 30


async def test_a_limit_nobody_reaches_does_not_grow() -> None:
    limit = LatencyLimit(initial=4, clock=lambda: 0.0)
    for _ in range(100):  # one call at a time, answered as fast as ever
        await limit.acquire()
        limit.release(0.150)
    assert limit.limit == 7  # the floor for 30 a second at 150 ms (with half again), nothing more


async def test_calls_wait_their_turn_and_a_cancelled_wait_gives_no_place_away() -> None:
    limit = LatencyLimit(initial=1, maximum=1, clock=lambda: 0.0)
    await limit.acquire()
    order: list[str] = []

    async def wait(name: str) -> None:
        await limit.acquire()
        order.append(name)

    first, gone, last = (asyncio.create_task(wait(name)) for name in ("first", "gone", "last"))
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.sleep(0)
    limit.release(None)
    await asyncio.sleep(0)
    assert order == ["first"] and limit.in_flight == 1
    limit.release(None)
    await asyncio.sleep(0)
    assert order == ["first", "last"] and limit.in_flight == 1
    with pytest.raises(asyncio.CancelledError):
        await gone


def test_a_limit_outside_its_bounds_is_refused() -> None:
    with pytest.raises(ValueError, match="initial"):
        LatencyLimit(initial=0)
