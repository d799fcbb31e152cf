"""Lifeline: helplines straight through the channel when the database holds up an urgent reply.

The normal crisis reply is stored with the message and sent after commit, so a slow or
unreachable database would hold it back. An urgent message therefore starts a countdown
before the database is touched: if its transaction has not committed when the countdown
ends (KEYWORKER_CRISIS_REPLY_SECONDS), or fails, the helplines are sent at once with the
channel's direct send, which needs no database. The message itself is never dropped: the
transaction carries on (or Telegram redelivers the update), and the stored replies, the
alert and its escalation follow as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from models import ChannelKind

if TYPE_CHECKING:
    from bot.runtime import Runtime
    from bot.services.risk import RiskAssessment
    from handlers.turn import InboundEvent

log = logging.getLogger(__name__)

# A redelivered update, or a burst of messages, gets the direct helplines once in this time.
_ONCE_PER = timedelta(minutes=10)


class Lifeline:
    """Sends direct helplines for urgent messages whose stored reply the database is holding up."""

    def __init__(self) -> None:
        self._sent: dict[tuple[str, str], datetime] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.sent_count = 0

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
        text = "\n".join([
            rt.content.text("crisis.stranger_helplines").strip(),
            rt.content.text("crisis.helplines", out_of_hours=rt.settings.out_of_hours_phone).strip(),
        ])
        try:
            await channel.send_direct(event.address, text)
        except Exception as exc:  # blocked, or the network is down too: the stored reply still follows
            log.warning("direct helplines to %s:%s failed (%s)", *key, type(exc).__name__)
            return
        self.sent_count += 1
        log.warning("urgent reply held up by the database: helplines sent directly to %s:%s", *key)

    def _spawn(self, coro: object) -> None:
        task = asyncio.create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
