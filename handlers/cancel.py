"""/cancel from anywhere: stop whatever flow is in progress."""

from __future__ import annotations

from handlers.turn import Turn


async def handle(turn: Turn) -> bool:
    if turn.event.command != "cancel" or turn.young_person is None:
        return False
    had_flow = turn.awaiting is not None
    await turn.finish()
    await turn.say("cancel.done" if had_flow else "cancel.nothing")
    return True
