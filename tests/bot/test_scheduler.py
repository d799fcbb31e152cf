"""The durable scheduler: once only, quiet hours, restarts, failures, and two schedulers on one database."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text

from bot.clock import FrozenClock
from bot.scheduler import JobContext, Outcome, Scheduler, do_cancel_jobs, do_schedule_job, done, dropped
from bot.services.hours import at_local
from bot.services.message import do_queue_outbound
from models import Job, JobState, Message
from models.db import create_engine, create_sessionmaker
from tests.conftest import Service

LONDON = ZoneInfo("Europe/London")


async def ping(ctx: JobContext) -> Outcome:
    """A test job: says one line to the young person unless it is quiet or the job is stale."""
    if ctx.job.payload.get("stale"):
        return dropped("appointment already happened")
    if (quiet := ctx.quiet_deferral()) is not None:
        return quiet
    ctx.queued.append(await do_queue_outbound(ctx.session, ctx.now, ctx.young_person, body=f"ping {ctx.job.key}"))
    return done()


async def boom(ctx: JobContext) -> Outcome:
    raise RuntimeError("handler bug")


HANDLERS = {"ping": ping, "boom": boom}


async def sam(service: Service) -> int:
    jo = await service.staff("jo", "Jo")
    return (await service.young_person("Samira Haddad", jo, "Sam")).id


async def schedule(service: Service, key: str, due: datetime, person: int, kind: str = "ping", **payload: object) -> None:
    async with service.rt.db() as session:
        await do_schedule_job(session, service.rt.now(), kind=kind, key=key, due_at=due, young_person_id=person, payload=payload)
        await session.commit()


async def bodies(service: Service) -> list[str]:
    async with service.rt.db() as session:
        return list((await session.scalars(select(Message.body).order_by(Message.id))).all())


async def job(service: Service, key: str) -> Job:
    async with service.rt.db() as session:
        return (await session.scalars(select(Job).where(Job.key == key))).one()


async def test_a_due_job_runs_once_and_the_same_key_schedules_once(service: Service, clock: FrozenClock) -> None:
    person = await sam(service)
    await schedule(service, "ping:1", clock.now() + timedelta(minutes=5), person)
    await schedule(service, "ping:1", clock.now() + timedelta(minutes=9), person)
    scheduler = Scheduler(service.rt, HANDLERS)
    assert await scheduler.tick() == 0  # not due yet
    clock.advance(minutes=5)
    assert await scheduler.tick() == 1
    assert await scheduler.tick() == 0
    assert await bodies(service) == ["ping ping:1"]
    assert (await job(service, "ping:1")).state == JobState.DONE


async def test_quiet_hours_hold_a_prompt_until_morning(service: Service, clock: FrozenClock) -> None:
    person = await sam(service)
    clock.set(datetime(2026, 11, 25, 22, 0, tzinfo=UTC))
    await schedule(service, "ping:night", clock.now(), person)
    scheduler = Scheduler(service.rt, HANDLERS)
    await scheduler.tick()
    assert await bodies(service) == []
    held = await job(service, "ping:night")
    assert held.state == JobState.PENDING and held.due_at == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    clock.set(datetime(2026, 11, 26, 8, 0, tzinfo=UTC))
    await scheduler.tick()
    assert await bodies(service) == ["ping ping:night"]


async def test_quiet_hours_end_at_local_time_in_summer(service: Service, clock: FrozenClock) -> None:
    person = await sam(service)
    clock.set(datetime(2026, 7, 1, 21, 0, tzinfo=UTC))  # 22:00 BST
    await schedule(service, "ping:summer", clock.now(), person)
    await Scheduler(service.rt, HANDLERS).tick()
    assert (await job(service, "ping:summer")).due_at == datetime(2026, 7, 2, 7, 0, tzinfo=UTC)  # 08:00 BST


def test_nine_oclock_is_nine_oclock_on_both_sides_of_each_clock_change() -> None:
    assert at_local(date(2026, 3, 28), "09:00", LONDON) == datetime(2026, 3, 28, 9, 0, tzinfo=UTC)
    assert at_local(date(2026, 3, 30), "09:00", LONDON) == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)
    assert at_local(date(2026, 10, 24), "09:00", LONDON) == datetime(2026, 10, 24, 8, 0, tzinfo=UTC)
    assert at_local(date(2026, 10, 26), "09:00", LONDON) == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)
    # 01:30 does not exist on 29 March 2026: it becomes 02:30 BST, i.e. 01:30 UTC.
    assert at_local(date(2026, 3, 29), "01:30", LONDON) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


async def test_after_a_restart_overdue_jobs_run_and_stale_ones_are_dropped(service: Service, clock: FrozenClock) -> None:
    person = await sam(service)
    await schedule(service, "ping:due", clock.now() + timedelta(hours=1), person)
    await schedule(service, "ping:stale", clock.now() + timedelta(hours=1), person, stale=True)
    clock.advance(hours=3)  # the service was down meanwhile
    await Scheduler(service.rt, HANDLERS, name="after-restart").tick()
    assert await bodies(service) == ["ping ping:due"]
    stale = await job(service, "ping:stale")
    assert stale.state == JobState.DROPPED and stale.outcome == "appointment already happened"


async def test_a_job_claimed_by_a_dead_process_is_taken_over_after_its_lease(service: Service, clock: FrozenClock) -> None:
    person = await sam(service)
    await schedule(service, "ping:orphan", clock.now(), person)
    dead = Scheduler(service.rt, HANDLERS, name="dead")
    assert await dead.claim()  # claimed, then the process died before running it
    alive = Scheduler(service.rt, HANDLERS, name="alive")
    assert await alive.tick() == 0
    clock.advance(minutes=6)
    assert await alive.tick() == 1
    assert await bodies(service) == ["ping ping:orphan"]


async def test_a_failing_job_is_retried_then_marked_failed(service: Service, clock: FrozenClock) -> None:
    person = await sam(service)
    await schedule(service, "boom:1", clock.now(), person, kind="boom")
    scheduler = Scheduler(service.rt, HANDLERS, max_attempts=2)
    await scheduler.tick()
    retry = await job(service, "boom:1")
    assert retry.state == JobState.PENDING and retry.due_at == clock.now() + timedelta(seconds=30)
    clock.advance(seconds=30)
    await scheduler.tick()
    assert (await job(service, "boom:1")).state == JobState.FAILED


async def test_cancelled_jobs_do_not_run(service: Service, clock: FrozenClock) -> None:
    person = await sam(service)
    await schedule(service, "appt:7:reminder:1", clock.now(), person)
    await schedule(service, "appt:7:reminder:2", clock.now(), person)
    await schedule(service, "appt:70:reminder:1", clock.now(), person)
    async with service.rt.db() as session:
        assert await do_cancel_jobs(session, clock.now(), key_prefix="appt:7:") == 2
        await session.commit()
    await Scheduler(service.rt, HANDLERS).tick()
    assert await bodies(service) == ["ping appt:70:reminder:1"]


async def test_two_schedulers_on_one_database_send_each_job_once(service: Service, clock: FrozenClock) -> None:
    person = await sam(service)
    async with service.rt.db() as session:
        for n in range(300):
            await do_schedule_job(session, clock.now(), kind="ping", key=f"ping:{n}", due_at=clock.now(), young_person_id=person)
        await session.commit()
    # A second "process": its own engine and connection pool on the same database.
    engine = create_engine(service.rt.settings.database_url)
    try:
        other_rt = dataclasses.replace(service.rt, engine=engine, db=create_sessionmaker(engine))
        first = Scheduler(service.rt, HANDLERS, name="first", batch=20)
        second = Scheduler(other_rt, HANDLERS, name="second", batch=20)
        ran = await asyncio.gather(first.tick(), second.tick())
    finally:
        await engine.dispose()
    assert sum(ran) == 300
    async with service.rt.db() as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 300
        assert await session.scalar(select(func.count(func.distinct(Message.body)))) == 300


async def test_a_scheduler_skips_rows_another_holds_locked(service: Service, clock: FrozenClock) -> None:
    person = await sam(service)
    async with service.rt.db() as session:
        for n in range(10):
            await do_schedule_job(session, clock.now(), kind="ping", key=f"ping:{n}", due_at=clock.now(), young_person_id=person)
        await session.commit()
    if service.rt.engine.dialect.name != "postgresql":
        # SQLite has one writer at a time: a claim waits for the other writer instead of skipping.
        assert await Scheduler(service.rt, HANDLERS).tick() == 10
        return
    async with service.rt.db() as holder:
        # Another process is mid-claim: it holds the three oldest rows locked.
        held = (await holder.scalars(select(Job.id).order_by(Job.id).limit(3).with_for_update())).all()
        claimed = await asyncio.wait_for(Scheduler(service.rt, HANDLERS, name="second").claim(), timeout=5)
        assert set(claimed).isdisjoint(held) and len(claimed) == 7
        await holder.rollback()


async def test_a_claim_takes_at_most_its_batch_and_leaves_the_rest_for_others(service: Service, clock: FrozenClock) -> None:
    person = await sam(service)
    for n in range(10):
        await schedule(service, f"ping:{n}", clock.now(), person)
    first, second = Scheduler(service.rt, HANDLERS, name="first", batch=3), Scheduler(service.rt, HANDLERS, name="second", batch=3)
    mine = await first.claim()
    assert len(mine) == 3
    theirs = await second.claim()
    assert len(theirs) == 3 and set(theirs).isdisjoint(mine)
    async with service.rt.db() as session:
        assert await session.scalar(select(func.count()).select_from(Job).where(Job.state == JobState.PENDING)) == 4


async def test_two_schedulers_never_run_one_young_persons_jobs_at_once(service: Service, clock: FrozenClock) -> None:
    # Two of Sam's jobs are due. One "process" claims the first and is held inside it; the other claims the
    # second, which must wait until the first is done (a check-in's miss counts the misses before it, which
    # the other job may be recording), and then runs.
    person = await sam(service)
    for n in range(2):
        await schedule(service, f"track:{n}", clock.now(), person, kind="track")
    log: list[str] = []
    entered, release = asyncio.Event(), asyncio.Event()

    async def track(ctx: JobContext) -> Outcome:
        log.append("in")
        entered.set()
        if len(log) == 1:
            await release.wait()  # the first job holds on until the test lets it go
        log.append("out")
        return done()

    if service.rt.engine.dialect.name != "postgresql":
        # SQLite runs as one process, which runs one young person's jobs in order.
        release.set()
        assert await Scheduler(service.rt, {"track": track}).tick() == 2
        assert log == ["in", "out"] * 2
        return
    engine = create_engine(service.rt.settings.database_url)
    other_rt = dataclasses.replace(service.rt, engine=engine, db=create_sessionmaker(engine))
    ticks = [asyncio.create_task(Scheduler(service.rt, {"track": track}, name="first", batch=1).tick())]
    try:
        await entered.wait()
        ticks.append(asyncio.create_task(Scheduler(other_rt, {"track": track}, name="second", batch=1).tick()))
        # Until the second is seen waiting for Sam (or, wrongly, starts Sam's second job).
        for _ in range(500):
            async with service.rt.db() as session:
                waiting = await session.scalar(text(  # a wait for a two-key advisory lock on Sam, in this database
                    "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objsubid = 2 AND objid = :sam "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                ), {"sam": person})
            if waiting or len(log) > 1:
                break
            await asyncio.sleep(0.01)
        assert log == ["in"] and waiting == 1
    finally:
        release.set()
        ran = await asyncio.gather(*ticks, return_exceptions=True)
        await engine.dispose()
    assert ran == [1, 1]  # each process ran one of Sam's jobs, one after the other
    assert log == ["in", "out", "in", "out"]


async def test_a_slow_job_set_aside_never_holds_up_a_staff_notice_due_with_it(service: Service, clock: FrozenClock) -> None:
    # The dashboard's refresh takes seconds at council scale. Due with an alert's staff notice (both about no young
    # person) and claimed first, it is held inside; the notice runs meanwhile, in a lane of its own.
    async with service.rt.db() as session:
        for kind in ("slow", "notice"):
            await do_schedule_job(session, clock.now(), kind=kind, key=f"{kind}:1", due_at=clock.now())
        await session.commit()
    log: list[str] = []
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow(ctx: JobContext) -> Outcome:
        log.append("slow in")
        entered.set()
        await release.wait()
        log.append("slow out")
        return done()

    async def notice(ctx: JobContext) -> Outcome:
        log.append("notice")
        return done()

    tick = asyncio.create_task(Scheduler(service.rt, {"slow": slow, "notice": notice}, aside=frozenset({"slow"})).tick())
    try:
        await entered.wait()
        for _ in range(500):  # until the notice has run (or, wrongly, the test gives up waiting for it)
            if "notice" in log:
                break
            await asyncio.sleep(0.01)
        assert log == ["slow in", "notice"]
    finally:
        release.set()
        ran = await tick
    assert ran == 2 and log == ["slow in", "notice", "slow out"]
