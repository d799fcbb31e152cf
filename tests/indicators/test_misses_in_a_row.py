"""Misses in a row are judged as check-ins are decided, in whatever order that happens.

A missed check-in is at least the 3rd in a row when the two answered-or-missed check-ins sent before it were
both missed (docs/indicators.md). The dashboard counts the ones judged so (CheckIn.third_missed); each answer
or miss judges again the young person's check-ins from the decided one on, since a late decision about an
earlier check-in changes those after it.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.services.checkin import do_answer_mood, mark_misses_in_a_row
from models import CheckIn, CheckInSource
from tests.handlers.test_bad_input import run_from_thread
from tests.indicators.conftest import World, utc

START = utc(2026, 11, 2, 9, 0)
OUTCOMES = ("answered", "missed", "undecided")  # undecided: paused by /stop, or not yet decided
# Up to 8 check-ins an hour or so apart (two may share a moment), each decided in any order.
HISTORIES = st.lists(st.tuples(st.integers(0, 6), st.sampled_from(OUTCOMES)), min_size=1, max_size=8).flatmap(
    lambda made: st.tuples(st.just(made), st.permutations(range(len(made))))
)


def by_hand(checkins: list[CheckIn]) -> set[int]:
    """The definition read off the final state: each missed one whose two decided ones before it were missed."""
    decided = sorted((c for c in checkins if c.missed or c.answered_at is not None), key=lambda c: (c.sent_at, c.id))
    thirds = set()
    for c in decided:
        before = [p for p in decided if p.sent_at < c.sent_at][-2:]
        if c.missed and len(before) == 2 and all(p.missed for p in before):
            thirds.add(c.id)
    return thirds


async def test_each_decision_judges_the_check_ins_after_it_whatever_order_they_come_in(world: World) -> None:
    jo = await world.staff("Jo")
    loop = asyncio.get_running_loop()

    async def decide(history: list[tuple[int, str]], order: list[int]) -> None:
        person = await world.young_person("Sam", jo)
        async with world.db() as session:
            made = [
                CheckIn(young_person_id=person.id, source=CheckInSource.SCHEDULED, sent_at=START + timedelta(hours=hour))
                for hour, _ in history
            ]
            session.add_all(made)
            await session.flush()
            for at, i in enumerate(order):
                checkin, outcome = made[i], history[i][1]
                now = START + timedelta(days=1, minutes=at)
                if outcome == "answered":
                    await do_answer_mood(session, now, checkin, 4)
                elif outcome == "missed":  # as the follow-up job records a miss
                    checkin.missed, checkin.missed_at = True, now
                    await session.flush()
                    await mark_misses_in_a_row(session, person.id, checkin.sent_at)
            await session.commit()
        async with world.db() as session:
            stored = list(await session.scalars(select(CheckIn).where(CheckIn.young_person_id == person.id)))
        assert {c.id for c in stored if c.third_missed} == by_hand(stored), (history, order)

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(HISTORIES)
    def check(drawn: tuple[list[tuple[int, str]], list[int]]) -> None:
        run_from_thread(loop, decide(*drawn))

    await asyncio.to_thread(check)


async def test_a_late_miss_makes_the_check_in_after_it_a_third(world: World) -> None:
    # Sent Monday, Tuesday and Wednesday at 9:00. Tuesday's and Wednesday's are missed first; then Monday's
    # miss is recorded late. Only then are there two missed before Wednesday's: it becomes the 3rd in a row.
    jo = await world.staff("Jo")
    sam = await world.young_person("Sam", jo)
    async with world.db() as session:
        monday, tuesday, wednesday = made = [
            CheckIn(young_person_id=sam.id, source=CheckInSource.SCHEDULED, sent_at=START + timedelta(days=d)) for d in range(3)
        ]
        session.add_all(made)
        await session.flush()
        for checkin in (tuesday, wednesday, monday):
            checkin.missed = True
            await session.flush()
            await mark_misses_in_a_row(session, sam.id, checkin.sent_at)
            if checkin is wednesday:  # Monday's undecided: only one missed before Wednesday's
                assert list(await session.scalars(select(CheckIn.id).where(CheckIn.third_missed))) == []
        await session.commit()
        assert list(await session.scalars(select(CheckIn.id).where(CheckIn.third_missed))) == [wednesday.id]
    board = await world.dashboard(START.date(), START.date() + timedelta(days=6), START + timedelta(days=6))
    assert board.figures()["checkins.missed_3_in_a_row"].value == 1
