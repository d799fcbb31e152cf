"""Live events between processes: relayed through PostgreSQL LISTEN/NOTIFY, no other broker."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets

import asyncpg
from sqlalchemy.engine import make_url

from bot.clock import Clock
from bot.events import EVERYONE, Event, EventBus
from bot.health import Health

log = logging.getLogger(__name__)

CHANNEL = "keyworker_events"
# PostgreSQL refuses a NOTIFY payload of 8000 bytes or more; events carry ids only, so far below it.
MAX_PAYLOAD = 7900
RESYNC = "resync"
SEND_AT_ONCE = 500  # events in one NOTIFY statement at most


def encode(event: Event, origin: str) -> str:
    """Turn an event into a NOTIFY payload naming the process it came from."""
    return json.dumps(
        {"o": origin, "k": event.kind, "y": event.young_person_id, "a": sorted(event.audience), "d": event.data},
        separators=(",", ":"),
    )


def decode(payload: str) -> tuple[str, Event]:
    """Turn a NOTIFY payload back into its origin and event."""
    raw = json.loads(payload)
    return raw["o"], Event(raw["k"], int(raw["y"]), frozenset(raw["a"]), raw.get("d") or {})


class PgRelay:
    """Sends this process's events to the others and hands theirs to the local bus."""

    def __init__(self, database_url: str, bus: EventBus, clock: Clock, health: Health, *, retry_seconds: float = 1.0) -> None:
        # SQLAlchemy's 'postgresql+asyncpg://' URL, as the plain DSN asyncpg itself reads.
        self._dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._bus = bus
        self._clock = clock
        self._health = health
        self._retry = retry_seconds
        self.origin = secrets.token_hex(8)
        self._own = f'{{"o":"{self.origin}",'  # how encode() begins this process's payloads
        self._outgoing: asyncio.Queue[str] = asyncio.Queue(maxsize=10_000)
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def start(self) -> None:
        """Connect, listen and send in the background, reconnecting after any loss, until stopped."""
        self._bus.forward = self.send
        # Until it listens, pages here miss what other processes publish: health says so.
        self._health.failed("live_relay", "not connected yet", self._clock.now())
        self._task = asyncio.create_task(self._run(), name="event-relay")

    async def stop(self) -> None:
        """Stop relaying and close the listening connection."""
        self._bus.forward = None
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def send(self, event: Event) -> None:
        """Queue an event for the other processes (the local bus has already had it)."""
        payload = encode(event, self.origin)
        if len(payload.encode()) > MAX_PAYLOAD:
            log.error("event %s for young person %s is too large to relay; other processes miss it", event.kind, event.young_person_id)
            return
        try:
            self._outgoing.put_nowait(payload)
        except asyncio.QueueFull:
            # Live updates only, never data: pages on other processes catch up when reloaded.
            log.warning("event relay queue full; event %s for young person %s not relayed", event.kind, event.young_person_id)

    def _heard(self, connection: object, pid: int, channel: str, payload: str) -> None:
        if payload.startswith(self._own):  # this process's own event, back from the database: the bus had it
            return
        try:
            origin, event = decode(payload)
        except (ValueError, KeyError, TypeError) as exc:
            log.error("unreadable relayed event from backend %s (%s)", pid, type(exc).__name__)
            return
        if origin != self.origin:
            self._bus.deliver(event)

    async def _run(self) -> None:
        while True:
            connection: asyncpg.Connection | None = None
            try:
                connection = await asyncpg.connect(self._dsn, timeout=5)
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _connection: lost.set())
                await connection.add_listener(CHANNEL, self._heard)
                self.connected.set()
                self._health.recovered("live_relay")
                # Whatever the other processes published before this LISTEN (while reconnecting, or
                # starting) never reached pages here: tell them all to load what they show again.
                self._bus.deliver(Event(RESYNC, 0, frozenset({EVERYONE})))
                log.info("live events relayed through PostgreSQL (%s); pages told to refresh", self.origin)
                await self._send_until(connection, lost)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.connected.clear()
                self._health.failed("live_relay", type(exc).__name__, self._clock.now())
                if isinstance(exc, (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncio.TimeoutError)):
                    log.warning("event relay lost PostgreSQL (%s); reconnecting in %s s", type(exc).__name__, self._retry)
                else:
                    log.exception("event relay failed; reconnecting in %s s", self._retry)
            finally:
                if connection is not None and not connection.is_closed():
                    connection.terminate()
            await asyncio.sleep(self._retry)

    async def _send_until(self, connection: asyncpg.Connection, lost: asyncio.Event) -> None:
        while not lost.is_set():
            getter = asyncio.ensure_future(self._outgoing.get())
            waiter = asyncio.ensure_future(lost.wait())
            try:
                await asyncio.wait({getter, waiter}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
                if not getter.done():
                    getter.cancel()
            if getter.done() and not getter.cancelled():
                # Everything queued meanwhile goes in the same statement, in order: one round trip and one
                # transaction for a burst (three events a message under load, bench/inbound.py). PostgreSQL
                # delivers identical payloads of one transaction once: a page told twice to reload the
                # same thing in the same moment reloads it once.
                payloads = [getter.result()]
                while len(payloads) < SEND_AT_ONCE and not self._outgoing.empty():
                    payloads.append(self._outgoing.get_nowait())
                await connection.execute(
                    "SELECT pg_notify($1, payload) FROM unnest($2::text[]) WITH ORDINALITY AS sent(payload, n) ORDER BY n",
                    CHANNEL, payloads,
                )
        raise ConnectionResetError("listening connection closed")
