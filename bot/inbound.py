"""The inbound pipeline: store first, check for risk, let the handlers answer, then deliver."""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.events import Event
from bot.media import fetch_media
from bot.runtime import Runtime
from bot.services.message import do_record_inbound
from bot.services.risk import RiskAssessment
from bot.services.young_person import audience
from handlers import HANDLERS, InboundEvent, Turn
from models import ChannelLink, ConversationState, InboundReceipt, StaffMember, YoungPerson
from models.channel import address_key

log = logging.getLogger(__name__)
_background: set[asyncio.Task[None]] = set()


async def receive(rt: Runtime, event: InboundEvent) -> Turn | None:
    """Handle one inbound event exactly once, whatever channel it came from."""
    # Safeguarding comes before anything else happens to the words (issue: safeguarding), and
    # before the database: an urgent message gets help even while the database holds it up.
    risk = rt.risk.assess(event.text) if event.text else None
    async with rt.lifeline.watch(rt, event, risk):
        return await _handle(rt, event, risk)


async def _handle(rt: Runtime, event: InboundEvent, risk: RiskAssessment | None) -> Turn | None:
    """Store an event, let the handlers answer it in the same transaction, then deliver."""
    now = rt.now()
    started = time.monotonic()
    try:
        async with rt.db() as session, session.begin():
            if event.receipt is not None:
                if await session.get(InboundReceipt, event.receipt) is not None:
                    log.info("update %s:%s already handled", *event.receipt)
                    return None
                session.add(InboundReceipt(source=event.receipt[0], update_id=event.receipt[1], received_at=now))
            turn = Turn(rt, session, event, now)
            await _identify(turn)
            words = event.text
            turn.risk = risk
            if turn.young_person is not None and turn.link is not None:
                turn.message = await do_record_inbound(
                    session,
                    now,
                    turn.young_person,
                    turn.link,
                    content_kind=event.content_kind,
                    body=words,
                    meta={**event.meta, **({"payload": event.payload} if event.payload else {}), **({"command": event.command} if event.command else {})},
                    risk_level=turn.risk.level if turn.risk and turn.risk.level else None,
                    external_id=event.external_id,
                )
            for handler in HANDLERS:
                if await handler(turn):
                    break
    except IntegrityError:
        if event.receipt is not None and await _already_handled(rt, event.receipt):
            log.info("update %s:%s handled concurrently elsewhere", *event.receipt)
            return None
        raise
    rt.metrics.inbound_seconds.observe(time.monotonic() - started)
    if turn.message is not None:
        rt.metrics.received.labels(event.channel).inc()
    _after_commit(rt, turn)
    return turn


async def _identify(turn: Turn) -> None:
    link = await turn.session.scalar(
        select(ChannelLink).where(
            ChannelLink.kind == turn.event.channel, ChannelLink.address_key == address_key(turn.event.address)
        )
    )
    if link is None:
        return
    turn.link = link
    turn.young_person = await turn.session.get(YoungPerson, link.young_person_id)
    if turn.young_person is not None:
        turn.key_worker = await turn.session.get(StaffMember, turn.young_person.key_worker_id)
        turn.awaiting = await turn.session.get(ConversationState, turn.young_person.id)


async def _already_handled(rt: Runtime, receipt: tuple[str, int]) -> bool:
    async with rt.db() as session:
        return await session.get(InboundReceipt, receipt) is not None


def _after_commit(rt: Runtime, turn: Turn) -> None:
    young_person = turn.young_person
    if young_person is not None:
        who = audience(young_person)
        for kind, data in turn.events:
            rt.events.publish(Event(kind, young_person.id, who, data))
        for message in [turn.message, *turn.queued]:
            if message is not None:
                rt.events.publish(Event("message", young_person.id, who, {"message_id": message.id}))
        rt.outbox.kick(message.id for message in turn.queued)
        if turn.message is not None and turn.message.meta.get("file_id"):
            _spawn(fetch_media(rt, turn.message.id))
    channel = rt.channels.get(turn.event.channel)
    for text in turn.direct:
        if channel is not None:
            _spawn(channel.send_direct(turn.event.address, text))


def _spawn(coro: object) -> None:
    task = asyncio.create_task(coro)  # type: ignore[arg-type]
    _background.add(task)
    task.add_done_callback(_finished)


def _finished(task: asyncio.Task[None]) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("after-commit task failed", exc_info=task.exception())


async def settle() -> None:
    """Wait for after-commit work (direct replies, media downloads) to finish."""
    while _background:
        await asyncio.gather(*list(_background), return_exceptions=True)
