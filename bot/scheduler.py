"""The durable scheduler: jobs live in the database, are claimed with row locks, and run once."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.events import Event
from bot.health import database_unavailable
from bot.runtime import Runtime
from bot.services.audit import seal
from bot.services.message import do_queue_outbound
from bot.services.quiet import quiet_until
from bot.services.young_person import audience
from models import Job, JobState, Message, StaffMember, YoungPerson

log = logging.getLogger(__name__)

# The longest one job waits for the outbox (a trickling queue must not hold claimed jobs near their lease).
MAX_GIVE_WAY = 30.0  # seconds


@dataclass(frozen=True)
class Outcome:
    """What running a job came to: done, dropped as no longer relevant, or deferred."""

    state: JobState
    note: str | None = None
    retry_at: datetime | None = None


def done(note: str | None = None) -> Outcome:
    return Outcome(JobState.DONE, note)


def dropped(note: str) -> Outcome:
    return Outcome(JobState.DROPPED, note)


def defer(until: datetime, note: str) -> Outcome:
    return Outcome(JobState.PENDING, note, until)


@dataclass
class JobContext:
    """Everything a job handler needs; messages it queues are delivered after commit."""

    rt: Runtime
    session: AsyncSession
    job: Job
    now: datetime
    young_person: YoungPerson | None = None
    key_worker: StaffMember | None = None
    queued: list[Message] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    notices: list[Event] = field(default_factory=list)  # events for a chosen audience (e.g. managers)

    @property
    def language(self) -> str:
        return self.young_person.language if self.young_person else "en"

    def text(self, key: str, **values: Any) -> str:
        return self.rt.content.text(key, self.language, **values)

    def quiet_deferral(self) -> Outcome | None:
        """Defer the job to the end of the young person's quiet hours, if it is quiet now."""
        if self.young_person is None:
            return None
        until = quiet_until(self.young_person, self.now, self.rt.settings.tz)
        return defer(until, "quiet hours") if until else None

    async def say(
        self,
        key: str,
        *,
        purpose: str | None = None,
        buttons: list[list[dict[str, str]]] | None = None,
        **values: Any,
    ) -> Message:
        """Queue a content text to the young person, with optional buttons."""
        assert self.young_person is not None, f"job {self.job.id} has no young person to speak to"
        message = await do_queue_outbound(
            self.session,
            self.now,
            self.young_person,
            body=self.text(key, **values),
            purpose=purpose or key,
            meta={"buttons": buttons} if buttons else None,
        )
        self.queued.append(message)
        return message


JobHandler = Callable[[JobContext], Awaitable[Outcome]]


async def do_schedule_job(
    session: AsyncSession,
    now: datetime,
    *,
    kind: str,
    key: str,
    due_at: datetime,
    young_person_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> Job:
    """Schedule a job once: a second call with the same key returns the first job."""
    existing = await session.scalar(select(Job).where(Job.key == key))
    if existing is not None:
        return existing
    job = Job(
        kind=kind,
        key=key,
        due_at=due_at,
        young_person_id=young_person_id,
        payload=payload or {},
        state=JobState.PENDING,
        created_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(job)
    except IntegrityError:
        # Another process scheduled it between our look and our insert.
        found = await session.scalar(select(Job).where(Job.key == key))
        assert found is not None
        return found
    return job


async def do_cancel_jobs(session: AsyncSession, now: datetime, *, key_prefix: str) -> int:
    """Cancel pending jobs whose key starts with a prefix; return how many."""
    result = await session.execute(
        update(Job)
        .where(Job.key.startswith(key_prefix, autoescape=True), Job.state == JobState.PENDING)
        .values(state=JobState.CANCELLED, finished_at=now)
    )
    return result.rowcount or 0


# PostgreSQL advisory locks (two-key form): a young person's id under this first key, held by the job running for them.
_YOUNG_PERSON_LOCKS = 7_310_002
_ONE_AT_A_TIME = text("SELECT pg_advisory_xact_lock(:space, young_person_id) FROM jobs WHERE id = :job AND young_person_id IS NOT NULL")


class Scheduler:
    """Claims due jobs in batches and runs each in its own transaction."""

    def __init__(
        self,
        rt: Runtime,
        handlers: Mapping[str, JobHandler],
        *,
        name: str | None = None,
        batch: int = 200,
        lease: timedelta = timedelta(minutes=5),
        max_attempts: int = 5,
        lanes: int = 8,
        backlog: int = 150,
        stall: float = 2.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        aside: frozenset[str] = frozenset(),
    ) -> None:
        self.rt = rt
        self.handlers = handlers
        # Kinds of job that take seconds and are about no young person (the dashboard's): they run in a lane of
        # their own, so an alert's staff notice claimed with them never waits behind them.
        self.aside = aside
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.batch = batch
        self.lease = lease
        self.max_attempts = max_attempts
        # On PostgreSQL, different young people's jobs run side by side (bench/fanout.py: serially,
        # round trips capped 10,000 reminders at about 10 a second; with 4 lanes on a busy machine,
        # about 14); SQLite has one writer anyway.
        self.lanes = lanes
        # Sending comes first: while this process's outbox holds `backlog` deliveries or more (150 is
        # five seconds of Telegram's 30 a second, enough to keep its limiter fed), a job starts only as
        # deliveries finish, so jobs go at the sending pace and their transactions never crowd out the
        # sender (bench/fanout.py). Not while the sender is stuck (Telegram down, a 429 pause): if the
        # backlog has not gone down for `stall` seconds, jobs run on.
        self.backlog = backlog
        self.stall = stall
        self._sleep = sleep
        self._monotonic = monotonic
        self._stuck_until = float("-inf")
        self._task: asyncio.Task[None] | None = None

    async def claim(self) -> list[int]:
        """Mark a batch of due jobs as ours; no other scheduler can claim the same rows."""
        return [job_id for job_id, _, _ in await self._claim()]

    async def _claim(self) -> list[tuple[int, int | None, str]]:
        now = self.rt.now()
        async with self.rt.db() as session, session.begin():
            # A claim older than the lease belongs to a process that died mid-job: free it.
            await session.execute(
                update(Job)
                .where(Job.state == JobState.RUNNING, Job.claimed_at < now - self.lease)
                .values(state=JobState.PENDING, claimed_by=None)
            )
            due = (
                select(Job.id)
                .where(Job.state == JobState.PENDING, Job.due_at <= now)
                .order_by(Job.due_at, Job.id)
                .limit(self.batch)
            )
            if session.bind.dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            # Chosen once: as an IN (subquery), PostgreSQL ran the subquery again for each pending row, and each
            # run skipped the rows this very statement had claimed, so one claim took every due job.
            chosen = due.cte("due").prefix_with("MATERIALIZED")
            claimed = await session.execute(
                update(Job)
                .where(Job.id == chosen.c.id, Job.state == JobState.PENDING)
                .values(state=JobState.RUNNING, claimed_by=self.name, claimed_at=now, attempts=Job.attempts + 1)
                .returning(Job.id, Job.young_person_id, Job.kind)
                .execution_options(synchronize_session=False)
            )
            return sorted((job_id, person, kind) for job_id, person, kind in claimed.all())

    async def give_way(self) -> None:
        """Wait while the outbox has a long queue and is getting through it (see `backlog`)."""
        outbox = self.rt.outbox
        if outbox.backlog < self.backlog or self._monotonic() < self._stuck_until:
            return
        last, moved = outbox.backlog, self._monotonic()
        began = moved
        while outbox.backlog >= self.backlog:
            await self._sleep(0.05)
            now = self._monotonic()
            if outbox.backlog < last:
                moved = now
            last = outbox.backlog
            if now - moved >= self.stall or now - began >= MAX_GIVE_WAY:
                # Waiting would not help a sender that is not sending (or barely); look again in a while.
                self._stuck_until = now + 5 * self.stall
                log.info("scheduler: outbox backlog of %s is not moving; running jobs anyway", last)
                return

    async def tick(self) -> int:
        """Claim and run every job due now; return how many ran."""
        total = 0
        while True:
            await self.give_way()
            if not (claimed := await self._claim()):
                break
            await self._run_claimed(claimed)
            total += len(claimed)
            if len(claimed) < self.batch:
                break
        return total

    async def _run_claimed(self, claimed: list[tuple[int, int | None, str]]) -> None:
        """Run claimed jobs in id order per young person, different young people's in parallel lanes."""
        width = self.lanes if self.rt.engine.dialect.name == "postgresql" else 1
        lanes: dict[int, list[int]] = defaultdict(list)
        for job_id, person, kind in claimed:
            # Jobs for no young person (escalations, staff notices) keep their order in lane 0; the slow
            # ones set aside, in theirs (-1), beside it.
            lanes[-1 if kind in self.aside else 0 if person is None else person % width].append(job_id)

        async def run(ids: list[int]) -> None:
            for job_id in ids:
                await self.give_way()
                await self.run_job(job_id)

        await asyncio.gather(*(run(ids) for ids in lanes.values()))

    async def run_job(self, job_id: int) -> None:
        """Run one claimed job; its messages and its new state commit together."""
        now = self.rt.now()
        try:
            async with self.rt.db() as session, session.begin():
                if self.rt.engine.dialect.name == "postgresql":
                    # One young person's jobs run one at a time across processes too (each process runs them in
                    # order): a check-in's miss counts the misses before it, which another process's job may be
                    # recording. Taken before anything is read, so what follows sees that job's work.
                    await session.execute(_ONE_AT_A_TIME, {"space": _YOUNG_PERSON_LOCKS, "job": job_id})
                # The job, its young person and their key worker in one round trip.
                row = (
                    await session.execute(
                        select(Job, YoungPerson, StaffMember)
                        .outerjoin(YoungPerson, YoungPerson.id == Job.young_person_id)
                        .outerjoin(StaffMember, StaffMember.id == YoungPerson.key_worker_id)
                        .where(Job.id == job_id)
                    )
                ).first()
                if row is None:
                    return
                job = row[0]
                if job.state != JobState.RUNNING or job.claimed_by != self.name:
                    return
                ctx = JobContext(self.rt, session, job, now, young_person=row[1], key_worker=row[2] if row[1] else None)
                handler = self.handlers.get(job.kind)
                outcome = await handler(ctx) if handler else Outcome(JobState.FAILED, f"no handler for {job.kind}")
                job.state = outcome.state
                job.outcome = outcome.note
                if outcome.state == JobState.PENDING:
                    job.due_at = outcome.retry_at or now
                    job.claimed_by = None
                else:
                    job.finished_at = now
        except Exception:
            log.exception("job %s failed", job_id)
            await self._failed(job_id, now)
            return
        for notice in ctx.notices:
            self.rt.events.publish(notice)
        young_person = ctx.young_person
        if young_person is not None:
            who = audience(young_person)
            for kind, data in ctx.events:
                self.rt.events.publish(Event(kind, young_person.id, who, data))
            for message in ctx.queued:
                self.rt.events.publish(Event("message", young_person.id, who, {"message_id": message.id}))
        self.rt.outbox.kick(message.id for message in ctx.queued)

    async def _failed(self, job_id: int, now: datetime) -> None:
        async with self.rt.db() as session, session.begin():
            job = await session.get(Job, job_id)
            if job is None:
                return
            if job.attempts >= self.max_attempts:
                job.state, job.finished_at, job.outcome = JobState.FAILED, now, "failed after retries"
            else:
                job.state, job.claimed_by = JobState.PENDING, None
                job.due_at = now + timedelta(seconds=30 * 2 ** (job.attempts - 1))

    def start(self, interval: float) -> None:
        """Tick in the background every interval seconds until stopped."""
        self._task = asyncio.create_task(self._loop(interval), name="scheduler")

    async def _loop(self, interval: float) -> None:
        while True:
            try:
                await self.tick()
                async with self.rt.db() as session:
                    await seal(session)  # the audit entries of the last few seconds join the chain
            except Exception as exc:  # the loop must outlive a database outage; each failure is logged
                if database_unavailable(exc):
                    log.warning("scheduler: database unavailable (%s); retrying in %s s", type(exc).__name__, interval)
                else:
                    log.exception("scheduler tick failed; retrying in %s s", interval)
            await asyncio.sleep(interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
