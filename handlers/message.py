"""Anything else a young person sends: it reaches their worker, with an answer out of hours."""

from __future__ import annotations

from sqlalchemy import select

from bot.services import hours
from handlers.turn import Turn
from models import Direction, Message


async def handle(turn: Turn) -> bool:
    young_person, worker = turn.young_person, turn.key_worker
    if young_person is None or worker is None:
        return False
    tz = turn.rt.settings.tz
    if hours.is_working(worker.working_hours, turn.now, tz):
        return True
    # One automatic answer per stretch of time off, not one per message.
    since = hours.last_end(worker.working_hours, turn.now, tz)
    query = select(Message.id).where(
        Message.young_person_id == young_person.id,
        Message.direction == Direction.OUTBOUND,
        Message.purpose == "out_of_hours",
    )
    if since is not None:
        query = query.where(Message.created_at >= since)
    if await turn.session.scalar(query.limit(1)) is not None:
        return True
    back = hours.next_start(worker.working_hours, turn.now, tz)
    await turn.say(
        "message.out_of_hours",
        purpose="out_of_hours",
        worker=worker.display_name,
        back=hours.describe_when(turn.rt.content, turn.language, back, turn.now, tz) if back else "",
        out_of_hours=turn.rt.settings.out_of_hours_phone,
    )
    return True
