"""The inbound pipeline: store first, check for risk, let the handlers answer, then deliver.

Updates that arrive together (a polled batch, webhook calls at the same moment) are handled in one
transaction by the Batcher: one commit, and the young people loaded with one query, instead of a
transaction and half a dozen look-ups each. If anything in a batch fails, the batch is rolled back
as a whole and each update is handled again on its own, exactly as a single update is, so one that
fails cannot lose or hold up the others (see docs/benchmarks.md, Inbound).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import traceback
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from typing import Any

from sqlalchemy import Select, and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from bot.events import Event
from bot.media import fetch_media
from bot.runtime import Runtime
from bot.services.message import do_record_inbound
from bot.services.risk import RiskAssessment
from bot.services.young_person import audience
from handlers import HANDLERS, InboundEvent, Turn
from models import (
    ChannelLink,
    ConversationState,
    InboundReceipt,
    MissingEpisode,
    StaffMember,
    WellbeingPlan,
    YoungPerson,
)
from models.channel import address_key
from models.db import one_of

log = logging.getLogger(__name__)
_background: set[asyncio.Task[None]] = set()

MAX_BATCH = 100  # updates in one transaction at most (getUpdates hands over 100 at most)
Handle = Callable[[InboundEvent], Awaitable[object]]
# What _identify found for a chat: its link, young person, key worker, flow step, wellbeing plan, open missing episode.
Found = tuple[
    ChannelLink, YoungPerson | None, StaffMember | None, ConversationState | None, WellbeingPlan | None, MissingEpisode | None
]
_UNKNOWN: Any = object()


async def receive(rt: Runtime, event: InboundEvent) -> Turn | None:
    """Handle one inbound event exactly once, whatever channel it came from."""
    # Safeguarding comes before anything else happens to the words (issue: safeguarding), and
    # before the database: an urgent message gets help even while the database holds it up.
    risk = rt.risk.assess(event.text) if event.text else None
    async with rt.lifeline.watch(rt, event, risk):
        return await _handle(rt, event, risk)


async def _handle(rt: Runtime, event: InboundEvent, risk: RiskAssessment | None) -> Turn | None:
    """Store an event, let the handlers answer it in the same transaction, then deliver."""
    started = time.monotonic()
    try:
        async with rt.db() as session, session.begin():
            if event.receipt is not None:
                # Written first (flushed by the first look-up): a redelivered update fails here, before any handler.
                session.add(InboundReceipt(source=event.receipt[0], update_id=event.receipt[1], received_at=rt.now()))
            turn = await _take_turn(rt, session, event, risk, None)
    except IntegrityError:
        if event.receipt is not None and await _already_handled(rt, event.receipt):
            log.info("update %s:%s already handled", *event.receipt)
            return None
        raise
    _handled(rt, turn, started)
    return turn


async def receive_batch(rt: Runtime, events: Sequence[InboundEvent]) -> list[Turn] | None:
    """Handle events in one transaction, in the order given; None if it was rolled back (nothing stored).

    The caller then handles each on its own (Batcher does): a redelivered update, a failing handler or a
    database error anywhere in the batch leaves no trace of the batch, and loses nothing.
    """
    started = time.monotonic()
    try:
        risks = [rt.risk.assess(event.text) if event.text else None for event in events]
    except Exception as exc:  # the very words may be what the checker fails on: each goes its own way
        _rolled_back(len(events), exc)
        return None
    async with AsyncExitStack() as watches:
        for event, risk in zip(events, risks, strict=True):
            await watches.enter_async_context(rt.lifeline.watch(rt, event, risk))
        try:
            async with rt.db() as session, session.begin():
                now = rt.now()
                session.add_all(
                    InboundReceipt(source=event.receipt[0], update_id=event.receipt[1], received_at=now)
                    for event in events
                    if event.receipt is not None
                )
                known = await _preload(session, events)
                turns: list[Turn] = []
                for event, risk in zip(events, risks, strict=True):
                    turns.append(await _take_turn(rt, session, event, risk, known))
                    if event.command == "start":
                        known.clear()  # /start can link or move a chat: look the rest up afresh
        except Exception as exc:
            _rolled_back(len(events), exc)
            return None
    for turn in turns:
        _handled(rt, turn, started)
    return turns


def _rolled_back(count: int, exc: BaseException) -> None:
    # Type and place only: a database error's text carries the young person's words.
    frames = traceback.extract_tb(exc.__traceback__)
    place = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    log.warning("a batch of %s updates was rolled back (%s%s); handling them one by one", count, type(exc).__name__, place)


async def _take_turn(
    rt: Runtime, session: AsyncSession, event: InboundEvent, risk: RiskAssessment | None, known: dict[Any, Any] | None
) -> Turn:
    turn = Turn(rt, session, event, rt.now())
    await _identify(turn, known)
    turn.risk = risk
    if turn.young_person is not None and turn.link is not None:
        turn.previous_message_at = turn.young_person.last_message_at
        turn.message = await do_record_inbound(
            session,
            turn.now,
            turn.young_person,
            turn.link,
            content_kind=event.content_kind,
            body=event.text,
            meta={**event.meta, **({"payload": event.payload} if event.payload else {}), **({"command": event.command} if event.command else {})},
            risk_level=turn.risk.level if turn.risk and turn.risk.level else None,
            external_id=event.external_id,
            flush=False,  # inserted with the replies, or the whole batch, in one statement
        )
    for handler in HANDLERS:
        if await handler(turn):
            break
    return turn


def _handled(rt: Runtime, turn: Turn, started: float) -> None:
    rt.metrics.inbound_seconds.observe(time.monotonic() - started)
    if turn.message is not None:
        rt.metrics.received.labels(turn.event.channel).inc()
    _after_commit(rt, turn)


@functools.cache
def _identify_query(joined: bool = False) -> Select[Any]:
    """A chat's link with its young person, key worker, flow step, wellbeing plan and open missing episode,
    in one query; their team and any cover under way follow in one more each for a whole batch, or with
    `joined` (PostgreSQL, where each is a round trip) in the same query, its rows then read through unique().

    Built once (a Select is never changed in place, each .where() makes a new one): building it took
    a few percent of the service's CPU under load (bench/inbound.py)."""
    query = (
        select(ChannelLink, YoungPerson, StaffMember, ConversationState, WellbeingPlan, MissingEpisode)
        .outerjoin(YoungPerson, YoungPerson.id == ChannelLink.young_person_id)
        .outerjoin(StaffMember, StaffMember.id == YoungPerson.key_worker_id)
        .outerjoin(ConversationState, ConversationState.young_person_id == YoungPerson.id)
        .outerjoin(WellbeingPlan, WellbeingPlan.young_person_id == YoungPerson.id)
        .outerjoin(
            MissingEpisode, and_(MissingEpisode.young_person_id == YoungPerson.id, MissingEpisode.ended_at.is_(None))
        )
    )
    if joined:
        query = query.options(joinedload(YoungPerson.current_team), joinedload(YoungPerson.current_cover))
    return query


async def _preload(session: AsyncSession, events: Sequence[InboundEvent]) -> dict[Any, Any]:
    """Look up every chat of a batch at once: (channel, address key) -> what was found, or None if unlinked."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for event in events:
        wanted[event.channel].add(address_key(event.address))
    known: dict[Any, Any] = {(channel, key): None for channel, keys in wanted.items() for key in keys}
    postgresql = session.get_bind().dialect.name == "postgresql"
    for channel, keys in wanted.items():
        chats = one_of(ChannelLink.address_key, keys, postgresql)
        rows = await session.execute(_identify_query(postgresql).where(ChannelLink.kind == channel, chats))
        for row in rows.unique() if postgresql else rows:
            known[(channel, row[0].address_key)] = tuple(row)
    return known


async def _identify(turn: Turn, known: dict[Any, Any] | None) -> None:
    key = (turn.event.channel, address_key(turn.event.address))
    # A batch's look-up serves a chat's first update only: an earlier one may have changed its flow step.
    found: Found | None = known.pop(key, _UNKNOWN) if known is not None else _UNKNOWN
    if found is _UNKNOWN:
        joined = turn.session.get_bind().dialect.name == "postgresql"
        rows = await turn.session.execute(
            _identify_query(joined).where(ChannelLink.kind == key[0], ChannelLink.address_key == key[1])
        )
        row = (rows.unique() if joined else rows).first()
        found = tuple(row) if row is not None else None  # type: ignore[assignment]
    if found is None:
        return
    # The wellbeing plan is loaded only so that the handlers find it without asking the database again.
    turn.link, turn.young_person, turn.key_worker, turn.awaiting, _plan, turn.episode = found
    turn.episode_known = turn.young_person is not None
    turn.loaded = found


async def _already_handled(rt: Runtime, receipt: tuple[str, int]) -> bool:
    async with rt.db() as session:
        return await session.get(InboundReceipt, receipt) is not None


def _after_commit(rt: Runtime, turn: Turn) -> None:
    young_person = turn.young_person
    if young_person is not None:
        rt.lifeline.remember_language(turn.event.channel, turn.event.address, young_person.language)
        who = audience(young_person)
        for kind, data in turn.events:
            rt.events.publish(Event(kind, young_person.id, who, data))
        for message in [turn.message, *turn.queued]:
            if message is not None:
                rt.events.publish(Event("message", young_person.id, who, {"message_id": message.id}))
        # Told of the replies, so told how they went; the chat they answer is not looked up again to send them.
        rt.outbox.kick((message.id for message in turn.queued), who, turn.link)
        if turn.message is not None and turn.message.meta.get("file_id"):
            _spawn(fetch_media(rt, turn.message.id))
    channel = rt.channels.get(turn.event.channel)
    for text in turn.direct:
        if channel is not None:
            _spawn(channel.send_direct(turn.event.address, text))


class HeldBack(Exception):
    """Not handled because an earlier update from the same chat failed: it must not overtake it."""


class Batcher:
    """Handles updates that arrive together in one transaction, each chat's in the order they came.

    Updates queue up while a batch is being handled and form the next batch, so a lone update waits
    for nobody and a burst shares commits. When a batch is rolled back, each of its updates goes
    through its own handle (the intake guard, then receive) one by one: chats side by side, each
    chat's in order, none after one of the same chat that failed.
    """

    def __init__(self, rt: Runtime, max_batch: int = MAX_BATCH) -> None:
        self._rt = rt
        self._max_batch = max_batch
        # One batch at a time: on PostgreSQL, four side by side (each chat always in the same one) were
        # slower on bench/inbound.py, their transactions waiting on each other's locks.
        self._queue: list[tuple[InboundEvent, Handle, asyncio.Future[None]]] = []
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0  # committed as batches (tests, metrics)

    def submit_all(self, items: Sequence[tuple[InboundEvent, Handle]]) -> list[asyncio.Future[None]]:
        """Queue events, each with how to handle it alone; each future is done once its event is stored."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[None]] = []
        for event, handle in items:
            future: asyncio.Future[None] = loop.create_future()
            self._queue.append((event, handle, future))
            futures.append(future)
        if self._worker is None or self._worker.done():
            # Kept with the after-commit work, so settle() (shutdown, tests) waits for a batch under way.
            self._worker = asyncio.create_task(self._work(), name="inbound-batches")
            _background.add(self._worker)
            self._worker.add_done_callback(_finished)
        return futures

    async def submit(self, event: InboundEvent, handle: Handle) -> None:
        """Handle one event along with whatever else is arriving; raise what handling it alone raised."""
        (future,) = self.submit_all([(event, handle)])
        await asyncio.shield(future)

    async def _work(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            try:
                await self._run(batch)
            except BaseException as exc:
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc if isinstance(exc, Exception) else HeldBack("intake stopped"))
                if not isinstance(exc, Exception):
                    raise

    async def _run(self, batch: list[tuple[InboundEvent, Handle, asyncio.Future[None]]]) -> None:
        if len(batch) > 1 and await receive_batch(self._rt, [event for event, _, _ in batch]) is not None:
            self.batches += 1
            for _, _, future in batch:
                if not future.done():
                    future.set_result(None)
            return
        by_chat: dict[tuple[str, str], list[tuple[InboundEvent, Handle, asyncio.Future[None]]]] = defaultdict(list)
        for item in batch:
            by_chat[(item[0].channel, item[0].address)].append(item)

        async def one_chat(items: list[tuple[InboundEvent, Handle, asyncio.Future[None]]]) -> None:
            failed = False
            for event, handle, future in items:
                if failed:
                    outcome: BaseException | None = HeldBack("an earlier update from this chat was not handled")
                else:
                    try:
                        await handle(event)
                        outcome = None
                    except Exception as exc:
                        outcome, failed = exc, True
                if future.done():
                    continue
                if outcome is None:
                    future.set_result(None)
                else:
                    future.set_exception(outcome)

        await asyncio.gather(*(one_chat(items) for items in by_chat.values()))


def _spawn(coro: object) -> None:
    task = asyncio.create_task(coro)  # type: ignore[arg-type]
    _background.add(task)
    task.add_done_callback(_finished)


def _finished(task: asyncio.Task[None]) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("after-commit task failed", exc_info=task.exception())


async def settle() -> None:
    """Wait for batches under way and after-commit work (direct replies, media downloads) to finish."""
    while _background:
        await asyncio.gather(*list(_background), return_exceptions=True)
