"""Anyone not linked to a young person: a kind 'by invitation' answer, and nothing stored."""

from __future__ import annotations

from handlers.turn import Turn


async def handle(turn: Turn) -> bool:
    if turn.young_person is not None:
        return False
    await turn.say("start.not_invited")
    return True
