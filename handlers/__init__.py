"""Conversation handlers, tried in order for each inbound event; the catch-all comes last."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from handlers import cancel, gate, message, start
from handlers.turn import InboundEvent, Turn

Handler = Callable[[Turn], Awaitable[bool]]

HANDLERS: list[Handler] = [
    start.handle,
    gate.handle,  # everything below is for linked young people only
    cancel.handle,  # /cancel works from anywhere, before any flow sees it
    message.handle,  # catch-all: must be last
]

__all__ = ["HANDLERS", "Handler", "InboundEvent", "Turn"]
