"""An edited message: checked for risk and seen by the worker like any text, never taken as a command or an answer.

Crisis and missing come before this handler, so urgent words in an edit still get help at once. What an
edit must not do is act twice: changing "/stop" to "/stopp", or fixing a typo in a reply sent while a
check-in waited, is not a new command or a new answer. So edits go straight to the catch-all.
"""

from __future__ import annotations

from handlers import message
from handlers.turn import Turn


async def handle(turn: Turn) -> bool:
    if not turn.event.meta.get("edited"):
        return False
    return await message.handle(turn)
