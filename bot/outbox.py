"""The outbox: delivers pending messages in order per chat, with retries, and records the outcome."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta

from sqlalchemy import func, or_, select, update
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

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


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
    ) -> None:
        self._db = db
        self._clock = clock
        self._content = content
        self._events = events
        self.channels = channels
        self._sleep = sleep
        self._max_attempts = max_attempts
        self._max_retry_after = max_retry_after
        self._intake = asyncio.Lock()
        self._last: dict[int, asyncio.Event] = {}  # per young person: the latest delivery queued
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

    def kick(self, message_ids: Iterable[int]) -> None:
        """Start delivering messages that were just committed."""
        for message_id in message_ids:
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
        try:
            await self._deliver(message_id, started)
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            # Still pending in the database: the sweep takes it up again once the database is back.
            self._stranded.add(message_id)
            self._health.failed("database", type(exc).__name__, self._clock.now())
            log.warning("message %s waits for the database (%s)", message_id, type(exc).__name__)
        finally:
            self._inflight.discard(message_id)

    async def _deliver(self, message_id: int, started: float) -> None:
        # Each message takes its place in its young person's queue in the order kicked (asyncio.Lock
        # is first come, first served; only one small read happens under it), so the privacy note
        # never overtakes the welcome. Loading and claiming then go on side by side for everyone.
        async with self._intake:
            async with self._db() as session:
                person = await session.scalar(select(Message.young_person_id).where(Message.id == message_id))
            if person is None:
                return
            before = self._last.get(person)
            done = self._last[person] = asyncio.Event()
        try:
            async with self._db() as session:
                loaded = await self._load(session, message_id)
            if loaded is None:
                return
            message, link, outgoing = loaded
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
                young_person = await self._record(message_id, link, status, error, external_id)
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
        if young_person is not None:
            self._events.publish(
                Event("status", young_person.id, audience(young_person), {"message_id": message_id})
            )
        if status != DeliveryStatus.SENT:
            log.warning("message %s to young person %s: %s (%s)", message_id, message.young_person_id, status, error)

    async def _record(
        self, message_id: int, link: ChannelLink, status: DeliveryStatus, error: str | None, external_id: str | None
    ) -> YoungPerson | None:
        """Store how a delivery went; return the young person to tell the console about, if any."""
        async with self._db() as session, session.begin():
            stored = await session.get(Message, message_id)
            if stored is None or stored.delivery_status != DeliveryStatus.PENDING:
                return None
            stored.delivery_status = status
            stored.delivery_error = error
            stored.external_id = external_id
            stored.sent_at = self._clock.now() if status == DeliveryStatus.SENT else None
            if status == DeliveryStatus.UNREACHABLE:
                current = await session.get(ChannelLink, link.id)
                if current is not None and current.status != ChannelStatus.UNREACHABLE:
                    current.status = ChannelStatus.UNREACHABLE
                    current.unreachable_since = self._clock.now()
            return await session.get(YoungPerson, stored.young_person_id)

    async def _load(
        self, session: AsyncSession, message_id: int
    ) -> tuple[Message, ChannelLink, Outgoing] | None:
        message = await session.get(Message, message_id)
        if message is None or message.delivery_status != DeliveryStatus.PENDING:
            return None
        now = self._clock.now()
        claimed = await session.execute(
            update(Message)
            .where(
                Message.id == message_id,
                Message.delivery_status == DeliveryStatus.PENDING,
                or_(Message.claimed_by.is_(None), Message.claimed_by == self.name, Message.claimed_at < now - self._lease),
            )
            .values(claimed_by=self.name, claimed_at=now)
            .execution_options(synchronize_session=False)
        )
        await session.commit()
        if claimed.rowcount == 0:
            return None  # another process is delivering it
        link = await session.scalar(
            select(ChannelLink).where(
                ChannelLink.young_person_id == message.young_person_id,
                ChannelLink.kind == message.channel,
            )
        )
        if link is None:
            message.delivery_status = DeliveryStatus.UNREACHABLE
            message.delivery_error = "channel no longer linked"
            await session.commit()
            return None
        sender = None
        if message.sender_kind == SenderKind.STAFF and message.staff_id is not None:
            # Their own name, with their role for a team member: "Kai (life coach)".
            sender = await sender_label(session, message.staff_id, message.young_person_id)
        buttons = tuple(
            tuple(Button(b["label"], b["data"]) for b in row) for row in message.meta.get("buttons", [])
        )
        outgoing = Outgoing(
            message_id=message.id,
            young_person_id=message.young_person_id,
            text=message.body or "",
            sender_label=sender,
            buttons=buttons,
            keyboard=tuple(tuple(row) for row in message.meta.get("keyboard", [])),
            silent=bool(message.meta.get("silent")),
            attachment=await _attachment(session, message),
        )
        return message, link, outgoing

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
