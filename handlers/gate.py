"""Anyone not linked to a young person: a kind 'by invitation' answer, and nothing stored."""

from __future__ import annotations

from handlers.turn import Turn


async def handle(turn: Turn) -> bool:
    if turn.young_person is not None:
        return False
    await turn.say("start.not_invited")
    if turn.risk is not None and turn.risk.is_urgent:
        # Not one of ours, but nobody in danger is turned away without help.
        await turn.say("crisis.stranger_helplines")
        await turn.say("crisis.helplines", out_of_hours=turn.rt.settings.out_of_hours_phone)
    return True
