"""Live events for console pages and web chats, published after each commit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)
# An audience key every subscription hears: for telling every page here to load again (bot/relay.py).
EVERYONE = "*"


@dataclass(frozen=True)
class Event:
    """Something a page may want to show: a new message, a status change, a caseload change."""

    kind: str
    young_person_id: int
    # Who may hear of it: "staff:<id>" for staff, "yp:<id>" for the young person's own web chat.
    audience: frozenset[str]
    data: dict[str, Any] = field(default_factory=dict)


class Subscription:
    """One listener's queue of events addressed to any of its keys."""

    def __init__(self, bus: EventBus, keys: frozenset[str], size: int) -> None:
        self._bus = bus
        self.keys = keys
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=size)
        self.overflowed = False

    def offer(self, event: Event) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            # A stalled page loses live updates, never data: it is told to reload.
            self.overflowed = True

    async def __aiter__(self) -> AsyncIterator[Event]:
        while not self.overflowed:
            event = await self.queue.get()
            if event is None:
                return
            yield event

    def close(self) -> None:
        self._bus.unsubscribe(self)


class EventBus:
    """In-process publish and subscribe, keyed by audience."""

    def __init__(self, queue_size: int = 256) -> None:
        self._subscriptions: set[Subscription] = set()
        self._queue_size = queue_size
        # Set by bot/relay.py on PostgreSQL: hands each event to the other processes too.
        self.forward: Callable[[Event], None] | None = None

    def subscribe(self, keys: Iterable[str]) -> Subscription:
        """Start listening for events addressed to any of the keys."""
        subscription = Subscription(self, frozenset(keys), self._queue_size)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def publish(self, event: Event) -> None:
        """Hand an event to every listener here and, when relayed, in every other process."""
        self.deliver(event)
        if self.forward is not None:
            self.forward(event)

    def deliver(self, event: Event) -> None:
        """Hand an event to every subscription here whose keys it is addressed to."""
        for subscription in list(self._subscriptions):
            if subscription.keys & event.audience or EVERYONE in event.audience:
                subscription.offer(event)

    def close(self) -> None:
        """Wake every listener so it can finish (used at shut-down)."""
        for subscription in list(self._subscriptions):
            try:
                subscription.queue.put_nowait(None)
            except asyncio.QueueFull:
                subscription.overflowed = True
        self._subscriptions.clear()

    @property
    def listeners(self) -> int:
        return len(self._subscriptions)
