"""Anything else a young person sends: it reaches their worker, with an answer out of hours."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot.services import hours
from bot.services import leave as leaves
from handlers.turn import Turn
from models import Direction, LeavePeriod, Message, StaffMember


async def handle(turn: Turn) -> bool:
    young_person, worker = turn.young_person, turn.key_worker
    if young_person is None or worker is None:
        return False
    tz = turn.rt.settings.tz
    if worker.id == young_person.key_worker_id:
        # The cover under way for their key worker comes loaded with the young person (models/team.py).
        leave = next(iter(young_person.current_cover), None)
    else:
        leave = await leaves.active_leave(turn.session, worker.id)
    if leave is not None:
        return await _during_leave(turn, worker, leave)
    if hours.is_working(worker.working_hours, turn.now, tz):
        return True
    # One automatic answer per stretch of time off, not one per message.
    if await _answered_since(turn, hours.last_end(worker.working_hours, turn.now, tz)):
        return True
    back = hours.next_start(worker.working_hours, turn.now, tz)
    ahead = await _leave_ahead(turn, worker, back) if back else None
    if ahead is not None:
        # Back at work only after a leave: say who will see it instead.
        cover = await turn.session.get(StaffMember, ahead.cover_id)
        assert cover is not None
        await turn.say(
            "message.before_leave_out_of_hours",
            purpose="out_of_hours",
            worker=worker.display_name,
            back=leaves.describe_day(turn.rt.content, turn.language, leaves.back_at(ahead, worker, tz), tz),
            cover=cover.display_name,
            cover_back=_when(turn, hours.next_start(cover.working_hours, max(turn.now, leaves.window(ahead, tz)[0]), tz)),
            out_of_hours=turn.rt.settings.out_of_hours_phone,
        )
        return True
    await turn.say(
        "message.out_of_hours",
        purpose="out_of_hours",
        worker=worker.display_name,
        back=_when(turn, back),
        out_of_hours=turn.rt.settings.out_of_hours_phone,
    )
    return True


async def _during_leave(turn: Turn, worker: StaffMember, leave: LeavePeriod) -> bool:
    """Tell the young person who is answering while their worker is away, and until when."""
    assert turn.young_person is not None and leave.cover_started_at is not None
    tz = turn.rt.settings.tz
    cover = await turn.session.get(StaffMember, leave.cover_id)
    assert cover is not None
    names = {
        "worker": worker.display_name,
        "cover": cover.display_name,
        "back": leaves.describe_day(turn.rt.content, turn.language, leaves.back_at(leave, worker, tz), tz),
    }
    if hours.is_working(cover.working_hours, turn.now, tz):
        # Usually told already when the leave began; if not (recorded late, quiet hours), now.
        if not await leaves.told_of_cover(turn.session, turn.young_person.id, leave):
            await turn.say("message.on_leave", purpose=leaves.cover_purpose(leave), **names)
        return True
    since = hours.last_end(cover.working_hours, turn.now, tz)
    if await _answered_since(turn, max(since, leave.cover_started_at) if since else leave.cover_started_at):
        return True
    await turn.say(
        "message.on_leave_out_of_hours",
        purpose="out_of_hours",
        cover_back=_when(turn, hours.next_start(cover.working_hours, turn.now, tz)),
        out_of_hours=turn.rt.settings.out_of_hours_phone,
        **names,
    )
    return True


async def _answered_since(turn: Turn, since: datetime | None) -> bool:
    assert turn.young_person is not None
    if turn.message is not None and since is not None and (
        turn.previous_message_at is None or turn.previous_message_at < since
    ):
        # Every reply moves last_message_at on (do_queue_outbound): no message at all since then, so no answer.
        return False
    query = select(Message.id).where(
        Message.young_person_id == turn.young_person.id,
        Message.direction == Direction.OUTBOUND,
        Message.purpose == "out_of_hours",
    )
    if since is not None:
        query = query.where(Message.created_at >= since)
    return await turn.session.scalar(query.limit(1)) is not None


async def _leave_ahead(turn: Turn, worker: StaffMember, back: datetime) -> LeavePeriod | None:
    """A worker's leave under way when they are back, looked up once per transaction (a batch asks for
    the same worker's evening many times; inbound handling never changes leave)."""
    cache: dict[tuple[int, datetime], LeavePeriod | None] = turn.session.info.setdefault("leave_ahead", {})
    key = (worker.id, back)
    if key not in cache:
        # Without a flush first: what this batch has added so far is not leave, so it waits for the commit and
        # goes in with the rest (a flush here split a batch's inserts into one per worker, bench/inbound.py).
        with turn.session.no_autoflush:
            cache[key] = await leaves.leave_ahead(turn.session, worker.id, back, turn.rt.settings.tz)
    return cache[key]


def _when(turn: Turn, moment: datetime | None) -> str:
    tz = turn.rt.settings.tz
    return hours.describe_when(turn.rt.content, turn.language, moment, turn.now, tz) if moment else ""
