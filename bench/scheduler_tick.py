"""Print how fast one scheduler tick finds and claims due check-in jobs, and how many jobs a second run.

Seeds 10,000 young people with check-in schedules and one due check-in job each, on SQLite (a temp
file) and, when KEYWORKER_TEST_DATABASE_URL is set, on that PostgreSQL database (its schema is
dropped and re-created, as the tests do: never point it at a database you care about).

Run from the repository root:
    .venv/bin/python bench/scheduler_tick.py [--people 10000] [--runs 7] [--run-jobs 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import create_async_engine

from bot.clock import FrozenClock
from bot.content import Content
from bot.events import EventBus
from bot.jobs import JOB_HANDLERS
from bot.keys import load_keyring
from bot.outbox import Outbox
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from bot.services.risk import RuleRiskChecker
from config.settings import Settings
from models import (
    ChannelLink,
    CheckInSchedule,
    Job,
    JobState,
    StaffMember,
    StaffRole,
    YoungPerson,
)
from models import crypto
from models.channel import address_key
from models.db import create_engine, create_sessionmaker
from models.migrate import upgrade

# Wednesday 25 November 2026, 09:00 in London (GMT): every seeded check-in is due now.
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
CHUNK = 1000
EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def progress(label: str, done: int, total: int) -> None:
    end = "\n" if done >= total else ""
    print(f"\r  {label}: {done:,}/{total:,}", end=end, file=sys.stderr, flush=True)


async def reset_postgres(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


def build_runtime(url: str, data_dir: Path) -> Runtime:
    """Assemble the parts the scheduler uses; delivery is left out, so only the scheduler is timed."""
    settings = Settings(database_url=url, data_dir=data_dir, secret_key="b" * 40, scheduler_interval_seconds=0)
    crypto.configure(load_keyring(settings))  # names are encrypted at rest, as in the service
    engine = create_engine(url)
    db = create_sessionmaker(engine)
    clock = FrozenClock(NOW)
    content = Content.load()
    events = EventBus()
    outbox = Outbox(db, clock, content, events, {})
    outbox.kick = lambda ids: None  # type: ignore[method-assign]
    rt = Runtime(
        settings=settings, engine=engine, db=db, clock=clock, content=content, events=events,
        risk=RuleRiskChecker.from_content(), outbox=outbox,
    )
    rt.scheduler = Scheduler(rt, JOB_HANDLERS, name="bench")
    return rt


async def seed(rt: Runtime, people: int) -> None:
    """Add one key worker and, per young person, a web-chat link, a daily 09:00 schedule and a due check-in job."""
    async with rt.db() as session, session.begin():
        worker = StaffMember(
            username="bench", display_name="Jo", role=StaffRole.KEY_WORKER, password_hash="-", created_at=NOW
        )
        session.add(worker)
        await session.flush()
        worker_id = worker.id
    for start in range(0, people, CHUNK):
        count = min(CHUNK, people - start)
        async with rt.db() as session, session.begin():
            ids = (
                await session.scalars(
                    insert(YoungPerson).returning(YoungPerson.id),
                    [
                        {"full_name": f"Young Person {start + i}", "preferred_name": f"YP{start + i}",
                         "key_worker_id": worker_id, "created_at": NOW}
                        for i in range(count)
                    ],
                )
            ).all()
            await session.execute(
                insert(ChannelLink),
                [{"young_person_id": yp, "kind": "webchat", "address": f"bench-{yp}", "address_key": address_key(f"bench-{yp}"),
                  "linked_at": NOW} for yp in ids],
            )
            await session.execute(
                insert(CheckInSchedule),
                [{"young_person_id": yp, "days": EVERY_DAY, "local_time": "09:00", "updated_at": NOW} for yp in ids],
            )
            await session.execute(
                insert(Job),
                [
                    {"kind": "checkin", "key": f"checkin:{yp}:2026-11-25", "young_person_id": yp, "due_at": NOW,
                     "state": JobState.PENDING, "payload": {"date": "2026-11-25", "due": NOW.isoformat()},
                     "attempts": 0, "created_at": NOW - timedelta(days=1)}
                    for yp in ids
                ],
            )
        progress("seeding young people", start + count, people)


async def release_claims(rt: Runtime) -> None:
    async with rt.db() as session, session.begin():
        await session.execute(
            update(Job).where(Job.state == JobState.RUNNING).values(state=JobState.PENDING, claimed_by=None, claimed_at=None)
        )


async def time_claims(rt: Runtime, runs: int, batch: int) -> tuple[float, int]:
    """Return the median seconds one claim of a batch takes, and how many it claimed."""
    assert rt.scheduler is not None
    rt.scheduler.batch = batch
    times, claimed = [], 0
    for _ in range(runs):
        began = time.perf_counter()
        claimed = len(await rt.scheduler.claim())
        times.append(time.perf_counter() - began)
        await release_claims(rt)
    return statistics.median(times), claimed


async def time_round_trip(rt: Runtime, runs: int) -> float:
    """Return the median seconds of a trivial query: the floor under every figure on this machine."""
    times = []
    async with rt.engine.connect() as connection:
        for _ in range(runs):
            began = time.perf_counter()
            await connection.execute(text("SELECT 1"))
            times.append(time.perf_counter() - began)
    return statistics.median(times)


async def time_idle_claim(rt: Runtime, runs: int) -> float:
    """Return the median seconds a claim takes when thousands of jobs are pending but none is due."""
    assert rt.scheduler is not None
    rt.clock.set(NOW - timedelta(hours=1))  # type: ignore[attr-defined]
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        assert await rt.scheduler.claim() == []
        times.append(time.perf_counter() - began)
    rt.clock.set(NOW)  # type: ignore[attr-defined]
    return statistics.median(times)


async def time_run_jobs(rt: Runtime, how_many: int) -> tuple[int, float, float]:
    """Claim and run due check-in jobs through run_job until how_many ran; return count, seconds, CPU seconds."""
    scheduler = rt.scheduler
    assert scheduler is not None
    scheduler.batch = 200
    ran, began, cpu = 0, time.perf_counter(), time.process_time()
    while ran < how_many:
        ids = await scheduler.claim()
        if not ids:
            break
        for job_id in ids[: how_many - ran]:
            await scheduler.run_job(job_id)
        ran += min(len(ids), how_many - ran)
        progress("running check-in jobs", ran, how_many)
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    await release_claims(rt)
    return ran, elapsed, cpu


async def bench(name: str, url: str, people: int, runs: int, run_jobs: int, data_dir: Path) -> None:
    print(f"\n== {name}: {people:,} young people ==")
    if url.startswith("postgresql"):
        await reset_postgres(url)
    await upgrade(url)
    rt = build_runtime(url, data_dir)
    try:
        began = time.perf_counter()
        await seed(rt, people)
        print(f"seeded in {time.perf_counter() - began:.1f} s")
        if rt.engine.dialect.name == "postgresql":
            async with rt.engine.begin() as connection:
                await connection.execute(text("ANALYZE"))
        trip = await time_round_trip(rt, runs * 20)
        print(f"one database round trip (SELECT 1):    median {trip * 1000:8.2f} ms  (how busy the machine is)")
        idle = await time_idle_claim(rt, runs)
        print(f"claim, {people:,} pending, none due:   median {idle * 1000:8.2f} ms over {runs} runs")
        one, claimed = await time_claims(rt, runs, batch=200)
        print(f"claim one batch ({claimed} of {people:,} due): median {one * 1000:8.2f} ms over {runs} runs")
        every, claimed = await time_claims(rt, max(3, runs // 2), batch=people)
        print(f"claim all {claimed:,} due at once:        median {every * 1000:8.2f} ms over {max(3, runs // 2)} runs")
        ran, elapsed, cpu = await time_run_jobs(rt, run_jobs)
        async with rt.db() as session:
            states = dict(
                (await session.execute(
                    select(Job.state, func.count()).where(Job.kind == "checkin", Job.finished_at.is_not(None)).group_by(Job.state)
                )).all()
            )
        print(f"run_job: {ran:,} check-ins in {elapsed:.1f} s = {ran / elapsed:,.0f} jobs/s"
              f" ({ran / cpu:,.0f} per CPU second of this process; finished: {states})")
        if states.get(JobState.DONE, 0) != ran:
            print("  warning: not every job finished as done; see the log above", file=sys.stderr)
    finally:
        await rt.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7, help="claims timed per figure (the median is printed)")
    parser.add_argument("--run-jobs", type=int, default=2_000, help="check-in jobs run through run_job")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="keyworker-bench-") as tmp:
        data_dir = Path(tmp)
        sqlite_url = f"sqlite+aiosqlite:///{data_dir / 'bench.db'}"
        asyncio.run(bench("SQLite", sqlite_url, args.people, args.runs, args.run_jobs, data_dir))
        pg_url = os.environ.get("KEYWORKER_TEST_DATABASE_URL")
        if pg_url:
            pg_url = pg_url.replace("postgresql://", "postgresql+asyncpg://", 1)
            asyncio.run(bench("PostgreSQL", pg_url, args.people, args.runs, args.run_jobs, data_dir))
        else:
            print("\n(PostgreSQL skipped: set KEYWORKER_TEST_DATABASE_URL to include it)")


if __name__ == "__main__":
    main()
