"""Opting out: /stop pauses prompts and reminders (their worker is told), /start resumes them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.flag import do_clear_flags, do_raise_flag
from models import ConversationState, YoungPerson

FLAG = "opted_out"
# The outcome a prompt or reminder job records when it drops because of /stop.
PAUSED = "paused: the young person sent /stop"


def is_paused(young_person: YoungPerson | None) -> bool:
    """Say whether prompts and reminders are paused for a young person (they sent /stop)."""
    return young_person is not None and young_person.opted_out_at is not None


async def do_stop(session: AsyncSession, now: datetime, young_person: YoungPerson) -> bool:
    """Pause prompts and reminders and flag it to the worker; return False if already paused."""
    if is_paused(young_person):
        return False
    young_person.opted_out_at = now
    await do_raise_flag(session, now, young_person.id, FLAG)
    # A question left waiting (a check-in, a wellbeing question) is forgotten: from now on
    # their words are simply messages to their worker.
    state = await session.get(ConversationState, young_person.id)
    if state is not None:
        await session.delete(state)
    await session.flush()
    return True


async def do_resume(session: AsyncSession, now: datetime, young_person: YoungPerson) -> bool:
    """Resume prompts and reminders and clear the worker's flag; return False if not paused."""
    if not is_paused(young_person):
        return False
    young_person.opted_out_at = None
    await do_clear_flags(session, now, young_person.id, FLAG)
    await session.flush()
    return True
