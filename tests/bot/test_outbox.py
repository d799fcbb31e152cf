"""The outbox under load: batch claims keep each young person's order and never send twice, and the
scheduler gives way to a long queue of messages unless the queue is stuck."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict

from sqlalchemy import func, select

from bot.channels.base import Outgoing
from bot.outbox import LOAD_BATCH, Outbox
from bot.scheduler import JobContext, Outcome, Scheduler, do_schedule_job, done
from bot.services.message import do_queue_outbound
from models import ChannelKind, ChannelLink, DeliveryStatus, Message, YoungPerson
from tests.conftest import Service


class Recorder:
    """A web chat that records what each outbox sent, taking a few turns of the event loop per send."""

    kind = ChannelKind.WEBCHAT

    def __init__(self, sent: list[tuple[str, int, int]], name: str, gate: asyncio.Semaphore | None = None) -> None:
        self.sent, self.name, self.gate = sent, name, gate

    async def send(self, address: str, outgoing: Outgoing) -> str | None:
        if self.gate is not None:
            await self.gate.acquire()
        for _ in range(random.randint(0, 3)):
            await asyncio.sleep(0)
        self.sent.append((self.name, outgoing.young_person_id, outgoing.message_id))
        return None

    async def send_direct(self, address: str, text: str) -> None:
        raise AssertionError("not used")

    async def fetch_media(self, file_id: str) -> bytes:
        raise AssertionError("not used")


async def people_on_webchat(service: Service, count: int) -> list[YoungPerson]:
    jo = await service.staff("jo", "Jo")
    people = [await service.young_person(f"Young Person {n}", jo, f"YP{n}") for n in range(count)]
    async with service.rt.db() as session:
        session.add_all(
            ChannelLink(young_person_id=p.id, kind=ChannelKind.WEBCHAT, address=f"web-{p.id}", linked_at=service.rt.now())
            for p in people
        )
        await session.commit()
    return people


async def queue(service: Service, people: list[YoungPerson], each: int) -> list[int]:
    """Queue `each` messages to every young person, interleaved; return their ids in order."""
    async with service.rt.db() as session:
        messages = [
            await do_queue_outbound(session, service.rt.now(), person, body=f"message {n}")
            for n in range(each)
            for person in people
        ]
        await session.commit()
    return [m.id for m in messages]


def outbox(service: Service, channel: Recorder) -> Outbox:
    rt = service.rt
    return Outbox(rt.db, rt.clock, rt.content, rt.events, {"webchat": channel}, sleep=service.sleeps)


async def test_two_processes_claiming_in_batches_send_each_message_once_in_order(service: Service) -> None:
    random.seed(7)
    people = await people_on_webchat(service, 3)
    ids = await queue(service, people, (LOAD_BATCH + 60) // 3)  # more than one batch
    sent: list[tuple[str, int, int]] = []
    a, b = outbox(service, Recorder(sent, "a")), outbox(service, Recorder(sent, "b"))
    # Each process is told about its own runs of messages, and about ten of the other's on either side
    # (a restart's resume while the other still delivers, say), a few at a time.
    step = 37
    for n, start in enumerate(range(0, len(ids), step)):
        (a if n % 2 else b).kick(ids[max(0, start - 10) : start + step + 10])
        await asyncio.sleep(0)
    await asyncio.gather(a.drain(), b.drain())

    assert sorted(message_id for _, _, message_id in sent) == ids  # every message, each once
    assert {name for name, _, _ in sent} == {"a", "b"}  # and both processes took a share
    for name in ("a", "b"):
        by_person: dict[int, list[int]] = defaultdict(list)
        for sender, person, message_id in sent:
            if sender == name:
                by_person[person].append(message_id)
        for person, sent_ids in by_person.items():
            assert sent_ids == sorted(sent_ids), f"{name} sent young person {person}'s messages out of order"
    async with service.rt.db() as session:
        statuses = dict((await session.execute(
            select(Message.delivery_status, func.count()).group_by(Message.delivery_status))).all())
    assert statuses == {DeliveryStatus.SENT: len(ids)}


async def test_one_process_keeps_each_young_persons_order_across_batches(service: Service) -> None:
    random.seed(11)
    people = await people_on_webchat(service, 4)
    ids = await queue(service, people, LOAD_BATCH // 2)  # two batches and more
    sent: list[tuple[str, int, int]] = []
    one = outbox(service, Recorder(sent, "one"))
    for start in range(0, len(ids), 50):
        one.kick(ids[start : start + 50])
        await asyncio.sleep(0)
    await one.drain()
    assert sorted(m for _, _, m in sent) == ids
    for person in people:
        mine = [m for _, p, m in sent if p == person.id]
        assert mine == sorted(mine) and len(mine) == LOAD_BATCH // 2


class Time:
    """Injected monotonic time and sleep for the scheduler: each sleep lets the sender through `per_sleep` sends."""

    def __init__(self, service: Service, gate: asyncio.Semaphore, per_sleep: int) -> None:
        self.now, self.service, self.gate, self.per_sleep = 0.0, service, gate, per_sleep

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        backlog = self.service.rt.outbox.backlog
        for _ in range(self.per_sleep):
            self.gate.release()
        if self.per_sleep:
            for _ in range(500):  # until the released sends are recorded (a database round trip each)
                if self.service.rt.outbox.backlog < backlog:
                    break
                await asyncio.sleep(0.01)


async def reminders_behind_a_queue(service: Service, per_sleep: int) -> tuple[list[int], list[tuple[str, int, int]], Time]:
    """Queue 12 messages to a channel that holds every send until let through, then run 3 due jobs.

    Return how many sends had gone through when each job ran, the sends, and the injected time.
    """
    people = await people_on_webchat(service, 12)
    sent: list[tuple[str, int, int]] = []
    gate = asyncio.Semaphore(0)
    service.rt.channels["webchat"] = Recorder(sent, "service", gate)
    service.rt.outbox.kick(await queue(service, people, 1))
    await asyncio.sleep(0.05)
    assert service.rt.outbox.backlog == 12
    seen: list[int] = []

    async def remind(ctx: JobContext) -> Outcome:
        seen.append(len(sent))
        return done()

    async with service.rt.db() as session:
        for n in range(3):
            await do_schedule_job(session, service.rt.now(), kind="remind", key=f"remind:{n}", due_at=service.rt.now(),
                                  young_person_id=people[n].id)
        await session.commit()
    time = Time(service, gate, per_sleep)
    scheduler = Scheduler(service.rt, {"remind": remind}, backlog=4, stall=2.0,
                          sleep=time.sleep, monotonic=time.monotonic)
    assert await asyncio.wait_for(scheduler.tick(), timeout=30) == 3
    return seen, sent, time


async def test_jobs_wait_while_the_sender_gets_through_a_long_queue(service: Service) -> None:
    seen, sent, _ = await reminders_behind_a_queue(service, per_sleep=1)
    # 12 queued and room for fewer than 4: the jobs ran only once 9 had gone.
    assert seen == [9, 9, 9], seen
    for _ in range(3):
        service.rt.channels["webchat"].gate.release()
    await service.rt.outbox.drain()
    assert len(sent) == 12


async def test_jobs_run_on_when_the_queue_is_not_moving(service: Service) -> None:
    seen, sent, time = await reminders_behind_a_queue(service, per_sleep=0)
    assert seen == [0, 0, 0] and sent == []  # Telegram is down, say: jobs do not wait for it
    assert 2.0 <= time.now < 3.0  # they waited out the stall once, not once per job
    for _ in range(12):
        service.rt.channels["webchat"].gate.release()
    await service.rt.outbox.drain()
    assert len(sent) == 12
