"""The outbox: delivers pending messages in order per chat, with retries, and records the outcome."""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, String, Update, bindparam, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.base import Attachment, Button, Channel, ChannelUnreachable, Outgoing, RetryLater, SendFailed
from bot.clock import Clock
from bot.content import Content
from bot.events import Event, EventBus
from bot.health import Health, database_unavailable
from bot.metrics import Metrics
from bot.services.team import sender_label
from bot.services.young_person import audience
from models import (
    ChannelLink,
    ChannelStatus,
    DeliveryStatus,
    MediaBlob,
    Message,
    SenderKind,
    YoungPerson,
)
from models.base import UTCDateTime
from models.db import one_of

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
LOAD_BATCH = 200  # messages claimed and loaded with one statement
# Deliveries in a channel's hands at once. Each channel decides how many of them it actually sends at
# once: Telegram's adapts to the latency it sees (bot/channels/ratelimit.py LatencyLimit, 16 at most),
# since every call in flight costs CPU in httpx's pool at each turn while a Bot API 250 ms away needs
# eight to keep 30 a second going. The rest wait their turn there, cheaply. Not more: a crisis reply
# sent straight through the channel (bot/lifeline.py) queues behind these for Telegram's 30 a second.
SENDING_AT_ONCE = 16


class Outbox:
    """Sends each pending message once, keeping the order of messages to the same chat."""

    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        clock: Clock,
        content: Content,
        events: EventBus,
        channels: dict[str, Channel],
        *,
        sleep: Sleep = asyncio.sleep,
        max_attempts: int = 8,
        max_retry_after: float = 300.0,
        health: Health | None = None,
        metrics: Metrics | None = None,
        lease: timedelta = timedelta(minutes=5),
        autocommit_db: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._db = db
        # PostgreSQL: sessions in autocommit (bot/app.py) for the claims and outcomes that are one statement each:
        # no BEGIN and COMMIT (one statement is atomic on its own). None: each in a transaction, as on SQLite.
        self._single = autocommit_db
        self._clock = clock
        self._content = content
        self._events = events
        self.channels = channels
        self._sleep = sleep
        self._max_attempts = max_attempts
        self._max_retry_after = max_retry_after
        self._intake = asyncio.Lock()
        self._last: dict[int, asyncio.Event] = {}  # per young person: the latest delivery queued
        self._wanted: dict[int, asyncio.Future[Any]] = {}  # kicked, waiting to be claimed and loaded, in order
        self._outcomes: dict[int, Any] = {}  # sent (or given up), waiting to be recorded
        # Who was told a message was queued (bot/inbound.py knows, having just published it): they are
        # told how its delivery went, without loading the young person, their team and cover again.
        self._audiences: dict[int, frozenset[str]] = {}
        # The chat a reply answers (bot/inbound.py has it loaded, just committed): not looked up again at claim.
        self._links: dict[int, ChannelLink] = {}
        self._sending = asyncio.Semaphore(SENDING_AT_ONCE)
        self._recording = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._health = health or Health()
        self._metrics = metrics or Metrics()
        self._inflight: set[int] = set()
        # Messages this process could not load or record while the database was out of reach.
        self._stranded: set[int] = set()
        self._sweeper: asyncio.Task[None] | None = None
        # Several processes share the database: each message is claimed by the one delivering it.
        self.name = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"[:64]
        self._lease = lease

    @property
    def backlog(self) -> int:
        """Deliveries this process has started and not finished (the scheduler gives way to a long queue)."""
        return len(self._tasks)

    def kick(
        self, message_ids: Iterable[int], audience: frozenset[str] | None = None, link: ChannelLink | None = None
    ) -> None:
        """Start delivering messages that were just committed (`audience`: who was told of them, if known;
        `link`: the chat they answer, as just committed, if known)."""
        for message_id in message_ids:
            if message_id not in self._inflight:
                if audience is not None:
                    self._audiences[message_id] = audience
                if link is not None:
                    self._links[message_id] = link
            task = asyncio.create_task(self.deliver(message_id), name=f"deliver-{message_id}")
            self._tasks.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery task %s failed", task.get_name(), exc_info=task.exception())

    async def resume(self) -> int:
        """Deliver every message still pending, for example after a restart."""
        async with self._db() as session:
            ids = (
                await session.scalars(
                    select(Message.id)
                    .where(Message.delivery_status == DeliveryStatus.PENDING)
                    .order_by(Message.id)
                )
            ).all()
        self.kick(ids)
        return len(ids)

    async def sweep(self) -> int:
        """Deliver again what the database kept from us, and whatever a stopped process left pending."""
        stranded, self._stranded = self._stranded, set()
        try:
            async with self._db() as session:
                # Claimed (or queued and never claimed) longer ago than the lease: its process stopped.
                orphans = (
                    await session.scalars(
                        select(Message.id).where(
                            Message.delivery_status == DeliveryStatus.PENDING,
                            func.coalesce(Message.claimed_at, Message.created_at) < self._clock.now() - self._lease,
                        )
                    )
                ).all()
        except Exception:
            self._stranded |= stranded
            raise
        ids = sorted((stranded | set(orphans)) - self._inflight)
        self.kick(ids)
        return len(ids)

    def start(self, interval: float) -> None:
        """Sweep in the background every interval seconds until closed."""
        self._sweeper = asyncio.create_task(self._sweep_loop(interval), name="outbox-sweeper")

    async def _sweep_loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                if swept := await self.sweep():
                    log.info("outbox: delivering %s messages again", swept)
            except Exception as exc:
                if not database_unavailable(exc):
                    log.exception("outbox sweep failed; retrying in %s s", interval)
                else:
                    log.warning("outbox sweep: database unavailable (%s); retrying in %s s", type(exc).__name__, interval)

    async def stop(self) -> None:
        """Stop sweeping."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)

    async def drain(self) -> None:
        """Wait until every delivery started so far has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def deliver(self, message_id: int) -> None:
        """Send one pending message through its channel and record how it went."""
        if message_id in self._inflight:
            return
        self._inflight.add(message_id)
        started = time.monotonic()
        heard_by = self._audiences.pop(message_id, None)
        try:
            await self._deliver(message_id, started, heard_by)
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            # Still pending in the database: the sweep takes it up again once the database is back.
            self._stranded.add(message_id)
            self._health.failed("database", type(exc).__name__, self._clock.now())
            log.warning("message %s waits for the database (%s)", message_id, type(exc).__name__)
        finally:
            self._inflight.discard(message_id)

    async def _deliver(self, message_id: int, started: float, heard_by: frozenset[str] | None) -> None:
        placed = await self._take_place(message_id)
        if placed is None:
            return
        (message, link, outgoing), before, done = placed
        person = message.young_person_id
        try:
            if before is not None:
                await before.wait()
            status, error, external_id = await self._attempt(self.channels.get(link.kind), link, outgoing)
        finally:
            done.set()
            if self._last.get(person) is done:
                del self._last[person]
        attempt = 0
        while True:
            attempt += 1
            try:
                told = await self._record(message_id, link, status, error, external_id, heard_by)
                self._health.recovered("database")
                break
            except Exception as exc:
                # Sent but not yet recorded: retried here rather than swept, which would send it twice.
                if not database_unavailable(exc) or attempt >= 3 * self._max_attempts:
                    raise
                self._health.failed("database", type(exc).__name__, self._clock.now())
                await self._sleep(min(2 ** (attempt - 1), 30))
        self._metrics.delivered.labels(link.kind, status).inc()
        self._metrics.delivery_seconds.observe(time.monotonic() - started)
        if told is not None:
            self._events.publish(Event("status", told[0], told[1], {"message_id": message_id}))
        if status != DeliveryStatus.SENT:
            log.warning("message %s to young person %s: %s (%s)", message_id, message.young_person_id, status, error)

    async def _record(
        self,
        message_id: int,
        link: ChannelLink,
        status: DeliveryStatus,
        error: str | None,
        external_id: str | None,
        heard_by: frozenset[str] | None = None,
    ) -> tuple[int, frozenset[str]] | None:
        """Store how a delivery went; return the young person to tell the console about, and who hears it, if any.

        Outcomes are recorded in batches, like claims: whichever delivery holds the lock records every
        outcome reported meanwhile in one transaction (bench/inbound.py: one transaction each cost five
        statements a reply). A failed batch fails each of its deliveries, which retry on their own.
        """
        recorded: asyncio.Future[tuple[int, frozenset[str]] | None] = asyncio.get_running_loop().create_future()
        self._outcomes[message_id] = (link, status, error, external_id, heard_by, recorded)
        async with self._recording:
            while not recorded.done():
                batch = {i: self._outcomes.pop(i) for i in list(itertools.islice(self._outcomes, LOAD_BATCH))}
                try:
                    people = await self._record_batch(batch)
                except Exception as exc:
                    for *_, future in batch.values():
                        future.set_exception(exc)
                    break
                except BaseException:
                    self._outcomes.update(batch)  # cancelled: the next delivery in line records them
                    raise
                for waiting_id, (*_, future) in batch.items():
                    future.set_result(people.get(waiting_id))
        return await recorded

    async def _record_batch(self, batch: dict[int, Any]) -> dict[int, tuple[int, frozenset[str]]]:
        now = self._clock.now()
        if self._single is not None and all(outcome[1] != DeliveryStatus.UNREACHABLE for outcome in batch.values()):
            return await self._record_at_once(batch, now)
        async with self._db() as session, session.begin():
            pending: dict[int, int] = {
                message_id: person
                for message_id, person in await session.execute(
                    select(Message.id, Message.young_person_id).where(
                        Message.id.in_(batch), Message.delivery_status == DeliveryStatus.PENDING
                    )
                )
            }
            if not pending:
                return {}
            await session.execute(
                update(Message),
                [
                    {"id": message_id, "delivery_status": status, "delivery_error": error, "external_id": external_id,
                     "sent_at": now if status == DeliveryStatus.SENT else None}
                    for message_id, (_, status, error, external_id, _, _) in batch.items()
                    if message_id in pending
                ],
            )
            for message_id, (link, status, *_) in batch.items():
                if message_id in pending and status == DeliveryStatus.UNREACHABLE:
                    current = await session.get(ChannelLink, link.id)
                    if current is not None and current.status != ChannelStatus.UNREACHABLE:
                        current.status = ChannelStatus.UNREACHABLE
                        current.unreachable_since = now
            return await _who_hears(session, batch, pending)

    async def _record_at_once(self, batch: dict[int, Any], now: datetime) -> dict[int, tuple[int, frozenset[str]]]:
        """Record a batch of outcomes (none of them a blocked chat) with one UPDATE ... RETURNING, outside a transaction.

        Only messages still pending change, each to its own outcome, as in _record_batch; one statement is
        atomic on its own, so another process recording the same message at the same moment changes it once.
        """
        ids, statuses, errors, external_ids = [], [], [], []
        for message_id, (_, status, error, external_id, _, _) in batch.items():
            ids.append(message_id)
            statuses.append(str(status))
            errors.append(error)
            external_ids.append(external_id)
        given = {"ids": ids, "statuses": statuses, "errors": errors, "external_ids": external_ids, "now": now,
                 "sent": str(DeliveryStatus.SENT)}
        assert self._single is not None
        async with self._single() as session:
            rows = await session.execute(_outcomes_query(), given)
            pending: dict[int, int] = {message_id: person for message_id, person in rows}
            return await _who_hears(session, batch, pending)

    async def _take_place(
        self, message_id: int
    ) -> tuple[tuple[Message, ChannelLink, Outgoing], asyncio.Event | None, asyncio.Event] | None:
        """Claim and load a message, and queue it behind its young person's earlier ones.

        Messages are claimed and loaded in batches: whichever delivery holds the intake lock claims
        every message kicked meanwhile with one UPDATE ... RETURNING (bench/fanout.py: one at a time,
        the loads could not keep Telegram's 30 a second fed while jobs ran). Each then takes its place
        in its young person's queue in the order kicked, so the privacy note never overtakes the welcome.
        """
        placed: asyncio.Future[tuple[tuple[Message, ChannelLink, Outgoing], asyncio.Event | None, asyncio.Event] | None]
        placed = self._wanted[message_id] = asyncio.get_running_loop().create_future()
        async with self._intake:
            while not placed.done():
                ids = list(itertools.islice(self._wanted, LOAD_BATCH))
                batch = {i: self._wanted.pop(i) for i in ids}
                known = {i: link for i in ids if (link := self._links.pop(i, None)) is not None}
                try:
                    async with (self._single or self._db)() as session:
                        loaded = await self._load(session, ids, known)
                except Exception as exc:  # each delivery handles it as its own (a database outage strands it)
                    for future in batch.values():
                        future.set_exception(exc)
                    break
                except BaseException:
                    self._wanted.update(batch)  # cancelled: the next delivery in line loads them
                    raise
                for waiting_id, future in batch.items():
                    found = loaded.get(waiting_id)
                    if found is None:
                        future.set_result(None)
                        continue
                    person = found[0].young_person_id
                    before = self._last.get(person)
                    done = self._last[person] = asyncio.Event()
                    future.set_result((found, before, done))
        return await placed

    async def _load(
        self, session: AsyncSession, ids: list[int], known: dict[int, ChannelLink]
    ) -> dict[int, tuple[Message, ChannelLink, Outgoing]]:
        """Claim those of the messages still pending and not another process's; load them to send.

        `known`: the chat of a message, as committed with it (a reply to what just arrived): not asked for again.
        """
        now = self._clock.now()
        messages = (
            await session.scalars(
                update(Message)
                .where(
                    one_of(Message.id, ids, self._single is not None),  # autocommit sessions: PostgreSQL
                    Message.delivery_status == DeliveryStatus.PENDING,
                    or_(Message.claimed_by.is_(None), Message.claimed_by == self.name, Message.claimed_at < now - self._lease),
                )
                .values(claimed_by=self.name, claimed_at=now)
                .returning(Message)
                .execution_options(synchronize_session=False, populate_existing=True)
            )
        ).all()
        if not messages:
            await session.commit()
            return {}  # sent already, or another process is delivering them
        links: dict[tuple[int, str | None], ChannelLink] = {}
        for message in messages:
            hint = known.get(message.id)
            if hint is not None and hint.young_person_id == message.young_person_id and hint.kind == message.channel:
                links[(message.young_person_id, message.channel)] = hint
        unknown = {m.young_person_id for m in messages if (m.young_person_id, m.channel) not in links}
        if unknown:
            # Queued elsewhere (a job, the console): in the claim's transaction, or just after it on PostgreSQL.
            found = {
                (link.young_person_id, link.kind): link
                for link in await session.scalars(select(ChannelLink).where(ChannelLink.young_person_id.in_(unknown)))
            }
            for key, link in found.items():
                links.setdefault(key, link)
        await session.commit()
        loaded: dict[int, tuple[Message, ChannelLink, Outgoing]] = {}
        for message in messages:
            link = links.get((message.young_person_id, message.channel))
            if link is None:
                message.delivery_status = DeliveryStatus.UNREACHABLE
                message.delivery_error = "channel no longer linked"
                await session.commit()
                continue
            loaded[message.id] = message, link, await self._outgoing(session, message)
        return loaded

    async def _outgoing(self, session: AsyncSession, message: Message) -> Outgoing:
        sender = None
        if message.sender_kind == SenderKind.STAFF and message.staff_id is not None:
            # Their own name, with their role for a team member: "Kai (life coach)".
            sender = await sender_label(session, message.staff_id, message.young_person_id)
        buttons = tuple(
            tuple(Button(b["label"], b["data"]) for b in row) for row in message.meta.get("buttons", [])
        )
        return Outgoing(
            message_id=message.id,
            young_person_id=message.young_person_id,
            text=message.body or "",
            sender_label=sender,
            buttons=buttons,
            keyboard=tuple(tuple(row) for row in message.meta.get("keyboard", [])),
            silent=bool(message.meta.get("silent")),
            attachment=await _attachment(session, message),
        )

    async def _attempt(
        self, channel: Channel | None, link: ChannelLink, outgoing: Outgoing
    ) -> tuple[DeliveryStatus, str | None, str | None]:
        if channel is None:
            return DeliveryStatus.FAILED, f"channel {link.kind} is not running", None
        if link.status == ChannelStatus.UNREACHABLE:
            return DeliveryStatus.UNREACHABLE, "young person has blocked this channel", None
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self._sending:  # FIFO: order per chat is kept by the young person's queue above
                    external_id = await channel.send(link.address, outgoing)
                self._health.recovered(link.kind)
                return DeliveryStatus.SENT, None, external_id
            except ChannelUnreachable as exc:
                return DeliveryStatus.UNREACHABLE, str(exc)[:200], None
            except RetryLater as exc:
                # Telegram's own flood control: wait as asked; it does not count as a failure.
                self._health.failed(link.kind, f"rate limited for {exc.seconds} s", self._clock.now())
                if exc.seconds > self._max_retry_after or attempt > 3 * self._max_attempts:
                    return DeliveryStatus.FAILED, f"rate limited for {exc.seconds} s", None
                self._metrics.retries.labels("rate_limited").inc()
                await self._sleep(exc.seconds)
            except SendFailed as exc:
                # A 5xx or a timeout: Telegram may be having a bad minute. Back off, then try again.
                self._health.failed(link.kind, str(exc)[:100], self._clock.now())
                if attempt >= self._max_attempts:
                    return DeliveryStatus.FAILED, str(exc)[:200], None
                self._metrics.retries.labels("server_error").inc()
                await self._sleep(min(2 ** (attempt - 1), 30))
            except Exception as exc:
                # Refused for good (e.g. Telegram's 400 Bad Request): retrying would not help, and
                # leaving it pending would show 'Sending…' forever.
                return DeliveryStatus.FAILED, f"{type(exc).__name__}: {exc}"[:200], None


async def _attachment(session: AsyncSession, message: Message) -> Attachment | None:
    """Load the file a message carries (stored with it as its media), if it carries one."""
    if not message.meta.get("attachment"):
        return None
    blob = await session.get(MediaBlob, message.id)
    if blob is None:
        return None
    return Attachment(message.meta.get("file_name") or "file", blob.mime_type, blob.data)


async def _who_hears(
    session: AsyncSession, batch: dict[int, Any], pending: dict[int, int]
) -> dict[int, tuple[int, frozenset[str]]]:
    """For each message recorded (pending: message id -> young person), the young person and who hears how it went.

    Who was told it was queued, where the delivery knows (a reply to what just arrived); otherwise (queued by a
    job or the console) the young person's audience, looked up once for the batch.
    """
    told = {message_id: (pending[message_id], outcome[4]) for message_id, outcome in batch.items()
            if message_id in pending and outcome[4] is not None}
    unknown = {person for message_id, person in pending.items() if message_id not in told}
    if not unknown:
        return told
    people = {
        person.id: audience(person)
        for person in await session.scalars(select(YoungPerson).where(YoungPerson.id.in_(unknown)))
    }
    told.update({message_id: (person, people[person]) for message_id, person in pending.items()
                 if message_id not in told and person in people})
    return told


@functools.cache
def _outcomes_query() -> Update:
    """PostgreSQL: set each pending message of a batch to its own outcome, from arrays, returning whose they were.

    Built once, and the same SQL text whatever the batch's size (one prepared statement, unlike an IN list)."""
    given = func.unnest(
        bindparam("ids", type_=ARRAY(BigInteger)),
        bindparam("statuses", type_=ARRAY(String)),
        bindparam("errors", type_=ARRAY(String)),
        bindparam("external_ids", type_=ARRAY(String)),
    ).table_valued("id", "status", "error", "external_id").render_derived(name="outcome")
    messages = Message.__table__
    return (
        update(messages)
        .where(messages.c.id == given.c.id, messages.c.delivery_status == DeliveryStatus.PENDING)
        .values(
            delivery_status=given.c.status,
            delivery_error=given.c.error,
            external_id=given.c.external_id,
            sent_at=case((given.c.status == bindparam("sent", type_=String), bindparam("now", type_=UTCDateTime))),
        )
        .returning(messages.c.id, messages.c.young_person_id)
    )
