"""The durable scheduler: jobs live in the database, are claimed with row locks, and run once."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
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
        lanes: int = 4,
    ) -> None:
        self.rt = rt
        self.handlers = handlers
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.batch = batch
        self.lease = lease
        self.max_attempts = max_attempts
        # On PostgreSQL, different young people's jobs run side by side (bench/fanout.py: serially,
        # round trips capped 10,000 reminders at about 10 a second); SQLite has one writer anyway.
        self.lanes = lanes
        self._task: asyncio.Task[None] | None = None

    async def claim(self) -> list[int]:
        """Mark a batch of due jobs as ours; no other scheduler can claim the same rows."""
        return [job_id for job_id, _ in await self._claim()]

    async def _claim(self) -> list[tuple[int, int | None]]:
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
            claimed = await session.execute(
                update(Job)
                .where(Job.id.in_(due.scalar_subquery()), Job.state == JobState.PENDING)
                .values(state=JobState.RUNNING, claimed_by=self.name, claimed_at=now, attempts=Job.attempts + 1)
                .returning(Job.id, Job.young_person_id)
                .execution_options(synchronize_session=False)
            )
            return sorted((job_id, person) for job_id, person in claimed.all())

    async def tick(self) -> int:
        """Claim and run every job due now; return how many ran."""
        total = 0
        while claimed := await self._claim():
            await self._run_claimed(claimed)
            total += len(claimed)
            if len(claimed) < self.batch:
                break
        return total

    async def _run_claimed(self, claimed: list[tuple[int, int | None]]) -> None:
        """Run claimed jobs in id order per young person, different young people's in parallel lanes."""
        width = self.lanes if self.rt.engine.dialect.name == "postgresql" else 1
        lanes: dict[int, list[int]] = defaultdict(list)
        for job_id, person in claimed:
            # Jobs for no young person (escalations, staff notices) keep their order in lane 0.
            lanes[0 if person is None else person % width].append(job_id)

        async def run(ids: list[int]) -> None:
            for job_id in ids:
                await self.run_job(job_id)

        await asyncio.gather(*(run(ids) for ids in lanes.values()))

    async def run_job(self, job_id: int) -> None:
        """Run one claimed job; its messages and its new state commit together."""
        now = self.rt.now()
        try:
            async with self.rt.db() as session, session.begin():
                job = await session.get(Job, job_id)
                if job is None or job.state != JobState.RUNNING or job.claimed_by != self.name:
                    return
                ctx = JobContext(self.rt, session, job, now)
                if job.young_person_id is not None:
                    ctx.young_person = await session.get(YoungPerson, job.young_person_id)
                    if ctx.young_person is not None:
                        ctx.key_worker = await session.get(StaffMember, ctx.young_person.key_worker_id)
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
