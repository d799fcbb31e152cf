"""Lifeline: helplines straight through the channel when the database holds up an urgent reply.

The normal crisis reply is stored with the message and sent after commit, so a slow or
unreachable database would hold it back. An urgent message therefore starts a countdown
before the database is touched: if its transaction has not committed when the countdown
ends (KEYWORKER_CRISIS_REPLY_SECONDS), or fails, the helplines are sent at once with the
channel's direct send, which needs no database. The message itself is never dropped: the
transaction carries on (or Telegram redelivers the update), and the stored replies, the
alert and its escalation follow as usual.

The helplines are worded in the young person's language when it is known without the
database: the languages stored are read once at start-up (recall), and every handled turn
and every web chat page opened keeps them up to date here. A channel this process has
never heard of gets them in English.

Web chat has no channel to send on: its page is waiting on the request itself, so
console/routes/webchat.py answers an urgent message with these helplines when the
database holds it up (see answer_in_time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import select

from bot.content import DEFAULT_LANGUAGE
from models import ChannelKind, ChannelLink, YoungPerson

if TYPE_CHECKING:
    from bot.runtime import Runtime
    from bot.services.risk import RiskAssessment
    from handlers.turn import InboundEvent

log = logging.getLogger(__name__)
T = TypeVar("T")

# A redelivered update, or a burst of messages, gets the direct helplines once in this time.
_ONCE_PER = timedelta(minutes=10)


class Lifeline:
    """Sends direct helplines for urgent messages whose stored reply the database is holding up."""

    def __init__(self) -> None:
        self._sent: dict[tuple[str, str], datetime] = {}
        self._languages: dict[tuple[str, str], str] = {}  # only those not in English, the default
        self._tasks: set[asyncio.Task[object]] = set()
        self.sent_count = 0

    def remember_language(self, channel: str, address: str, language: str) -> None:
        """Note which language a channel address reads, for helplines sent without the database."""
        key = (channel, address)
        if language == DEFAULT_LANGUAGE:
            self._languages.pop(key, None)
        else:
            self._languages[key] = language

    async def recall(self, rt: Runtime) -> int:
        """Remember, from the database, every channel whose young person reads another language (at start-up).

        Returns how many were remembered. One query; addresses are decrypted here, in memory only.
        """
        async with rt.db() as session:
            rows = (await session.execute(
                select(ChannelLink.kind, ChannelLink.address, YoungPerson.language)
                .join(YoungPerson, YoungPerson.id == ChannelLink.young_person_id)
                .where(YoungPerson.language != DEFAULT_LANGUAGE, YoungPerson.erased_at.is_(None))
            )).all()
        for kind, address, language in rows:
            self.remember_language(kind, address, language)
        return len(rows)

    def language(self, channel: str, address: str) -> str:
        """Return the language last seen for a channel address, English if none was."""
        return self._languages.get((channel, address), DEFAULT_LANGUAGE)

    def helplines(self, rt: Runtime, language: str) -> str:
        """Word the helplines that go out without the database, in a language (English where it lacks one)."""
        return "\n".join([
            rt.content.text("crisis.stranger_helplines", language).strip(),
            rt.content.text("crisis.helplines", language, out_of_hours=rt.settings.out_of_hours_phone).strip(),
        ])

    async def answer_in_time(self, rt: Runtime, work: Awaitable[T]) -> T | None:
        """Run the stored handling of an urgent message, returning None if it is not done in time.

        None means the database held it up or failed: the caller answers with helplines at
        once. Work still running carries on, so the message is stored when the database
        catches up; a failure is logged (never the young person's words).
        """
        task: asyncio.Task[T] = asyncio.ensure_future(work)
        done, _ = await asyncio.wait({task}, timeout=rt.settings.crisis_reply_seconds)
        if task in done and task.exception() is None:
            return task.result()
        if task in done:
            log.warning("urgent message not stored (%s): helplines given directly", type(task.exception()).__name__)
        else:
            self._spawn(task)
        self.sent_count += 1
        log.warning("urgent reply held up by the database: helplines given directly")
        return None

    @contextlib.asynccontextmanager
    async def watch(self, rt: Runtime, event: InboundEvent, risk: RiskAssessment | None) -> AsyncIterator[None]:
        """Guard the handling of one event: help goes out directly if it is not committed in time."""
        # Web chat has no direct send: its page is waiting on this very request.
        direct = event.channel != ChannelKind.WEBCHAT and event.channel in rt.channels
        if risk is None or not risk.is_urgent or not direct:
            yield
            return
        state = {"sending": False}
        countdown = asyncio.create_task(self._after(rt.settings.crisis_reply_seconds, rt, event, state))
        try:
            yield
        except asyncio.CancelledError:
            countdown.cancel()
            raise
        except BaseException:
            # Not stored: Telegram will redeliver, but the young person is not kept waiting for that.
            if not state["sending"]:
                countdown.cancel()
                self._spawn(self._send(rt, event, state))
            raise
        else:
            if not state["sending"]:
                countdown.cancel()

    async def _after(self, seconds: float, rt: Runtime, event: InboundEvent, state: dict[str, bool]) -> None:
        # Real time on purpose: this measures the database, not the service's clock.
        await asyncio.sleep(seconds)
        await self._send(rt, event, state)

    async def _send(self, rt: Runtime, event: InboundEvent, state: dict[str, bool]) -> None:
        state["sending"] = True
        key = (event.channel, event.address)
        now = rt.now()
        last = self._sent.get(key)
        if last is not None and now - last < _ONCE_PER:
            return
        self._sent = {k: t for k, t in self._sent.items() if now - t < _ONCE_PER}
        self._sent[key] = now
        channel = rt.channels[event.channel]
        text = self.helplines(rt, self.language(*key))
        try:
            await channel.send_direct(event.address, text)
        except Exception as exc:  # blocked, or the network is down too: the stored reply still follows
            log.warning("direct helplines to %s:%s failed (%s)", *key, type(exc).__name__)
            return
        self.sent_count += 1
        log.warning("urgent reply held up by the database: helplines sent directly to %s:%s", *key)

    def _spawn(self, work: object) -> None:
        task = work if isinstance(work, asyncio.Future) else asyncio.create_task(work)  # type: ignore[arg-type]
        self._tasks.add(task)  # type: ignore[arg-type]
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Future[object]) -> None:
        self._tasks.discard(task)  # type: ignore[arg-type]
        if not task.cancelled() and task.exception() is not None:
            # The type only: a database error carries the statement's parameters, the young person's words.
            log.error("urgent message handling failed after its helplines went out (%s)", type(task.exception()).__name__)

    async def settle(self, timeout: float | None = None) -> int:
        """Wait for held-up work to finish (tests, and shutdown); return how many were still waiting at the timeout."""
        async def every() -> None:
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

        try:
            await asyncio.wait_for(every(), timeout)
        except TimeoutError:
            return len(self._tasks)
        return 0
