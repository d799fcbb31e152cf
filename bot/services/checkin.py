"""Check-ins: send one, take its answer, nudge once, count misses, and raise or clear flags."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.scheduler import JobContext, Outcome, defer, do_schedule_job, done, dropped
from bot.services.flag import do_clear_flags, do_raise_flag
from bot.services.opt_out import PAUSED, is_paused
from bot.services.settings import do_plan_checkin, get_schedule, occurrences
from bot.services.speaker import Buttons, Speaker, worker_name
from models import (
    ChannelLink,
    CheckIn,
    CheckInSource,
    ConversationState,
    Flag,
    Message,
    StaffMember,
)
from models.base import UTCDateTime

FOLLOW_UP_JOB = "checkin_follow_up"  # one per scheduled check-in: the nudge, then the miss
NUDGE_AFTER = timedelta(hours=2)
# Later than this a nudge would be more nag than help: the check-in is left to be missed.
NUDGE_UNTIL = timedelta(hours=6)
MISS_AFTER = timedelta(hours=12)
MOODS = (1, 2, 3, 4, 5)
LOW_MOOD = 2  # this or lower: ask whether they want their worker to get in touch
# Flags shown under "Needs you" on the check-ins panel, each with a Done button ("not_listened": bot/services/listened.py).
FLAG_KINDS = ("wants_contact", "not_heard_from", "not_listened")
FLOW = "checkin"

def checkin_buttons(speaker: Speaker, checkin: CheckIn) -> Buttons:
    """Offer the feelings scale (best first), 'I want to talk' and 'I've got good news'."""
    data = f"checkin:{checkin.id}"
    mood = [{"label": speaker.text(f"checkin.mood_{n}"), "data": f"{data}:m{n}"} for n in reversed(MOODS)]
    worker = worker_name(speaker)
    return [
        mood[:3],
        mood[3:],
        [{"label": speaker.text("checkin.talk_button", worker=worker), "data": f"{data}:talk"}],
        [{"label": speaker.text("checkin.news_button"), "data": f"{data}:news"}],
    ]


def contact_buttons(speaker: Speaker, checkin: CheckIn) -> Buttons:
    data = f"checkin:{checkin.id}"
    return [[
        {"label": speaker.text("checkin.contact_yes"), "data": f"{data}:yes"},
        {"label": speaker.text("checkin.contact_no"), "data": f"{data}:no"},
    ]]


async def latest_checkin(session: AsyncSession, young_person_id: int) -> CheckIn | None:
    return await session.scalar(
        select(CheckIn)
        .where(CheckIn.young_person_id == young_person_id)
        .order_by(CheckIn.sent_at.desc(), CheckIn.id.desc())
        .limit(1)
    )


async def recent_checkins(session: AsyncSession, young_person_id: int, limit: int = 10) -> list[CheckIn]:
    """Return the newest check-ins of a young person, newest first."""
    rows = await session.scalars(
        select(CheckIn)
        .where(CheckIn.young_person_id == young_person_id)
        .order_by(CheckIn.sent_at.desc(), CheckIn.id.desc())
        .limit(limit)
    )
    return list(rows)


def is_open(checkin: CheckIn, latest: CheckIn | None) -> bool:
    """Say whether a check-in still takes an answer: unanswered, and not replaced by a newer one."""
    return checkin.answered_at is None and latest is not None and latest.id == checkin.id


async def do_send_checkin(speaker: Speaker, source: CheckInSource) -> CheckIn:
    """Record a check-in and queue the question with its buttons; a scheduled one also gets its follow-up job."""
    session, now, young_person = speaker.session, speaker.now, speaker.young_person
    assert young_person is not None
    checkin = CheckIn(young_person_id=young_person.id, source=source, sent_at=now)
    session.add(checkin)
    await session.flush()
    message = await speaker.say(
        "checkin.question",
        purpose="checkin",
        buttons=checkin_buttons(speaker, checkin),
        name=young_person.preferred_name,
        worker=worker_name(speaker),
    )
    checkin.message_id = message.id if message else None
    await _await_answer(session, now, young_person.id, checkin)
    if source == CheckInSource.SCHEDULED:
        await do_schedule_job(
            session, now, kind=FOLLOW_UP_JOB, key=f"{FOLLOW_UP_JOB}:{checkin.id}", due_at=now + NUDGE_AFTER,
            young_person_id=young_person.id, payload={"checkin_id": checkin.id},
        )
    await session.flush()
    return checkin


async def _await_answer(session: AsyncSession, now: datetime, young_person_id: int, checkin: CheckIn) -> None:
    # Free text answers the check-in, unless the young person is in the middle of another flow.
    state = await session.get(ConversationState, young_person_id)
    if state is None:
        state = ConversationState(young_person_id=young_person_id, flow=FLOW, step="answer")
        session.add(state)
    elif state.flow != FLOW:
        return
    state.step, state.data, state.updated_at = "answer", {"checkin_id": checkin.id}, now


async def _answered(session: AsyncSession, now: datetime, checkin: CheckIn, answer: str) -> None:
    checkin.answered_at, checkin.answer = now, answer
    # Hearing from them is what 'not heard from' waits for.
    await do_clear_flags(session, now, checkin.young_person_id, "not_heard_from")
    await session.flush()
    await mark_misses_in_a_row(session, checkin.young_person_id, checkin.sent_at)


# A missed check-in is at least the 3rd in a row when the two answered-or-missed ones sent before it were missed
# too (one neither, paused by /stop, does not end a run). Deciding one can change the check-ins sent after it
# (the one before may be missed after a later one was sent), so from it on each decided one is judged again.
THIRD_MISSED = (
    "UPDATE checkins SET third_missed = CASE WHEN missed AND (SELECT COUNT(*) FROM (SELECT p.missed FROM checkins p "
    "WHERE p.young_person_id = checkins.young_person_id AND p.sent_at < checkins.sent_at "
    "AND (p.missed OR p.answered_at IS NOT NULL) ORDER BY p.sent_at DESC, p.id DESC LIMIT 2) AS b WHERE b.missed) = 2 "
    "THEN TRUE ELSE FALSE END WHERE (missed OR answered_at IS NOT NULL)"
)


async def mark_misses_in_a_row(session: AsyncSession, young_person_id: int | None = None, since: datetime | None = None) -> None:
    """Judge again which decided check-ins are a 3rd missed in a row (CheckIn.third_missed), for the dashboards.

    Only a young person's, from a check-in's sending on, after it was answered or missed; everyone's when
    check-ins are loaded in bulk (the dashboard bench's seeding, hand-built test fixtures).
    """
    where, values, typed = "", {}, []
    if young_person_id is not None:
        where, values["yp"] = where + " AND young_person_id = :yp", young_person_id
    if since is not None:
        where, values["since"] = where + " AND sent_at >= :since", since
        typed.append(bindparam("since", type_=UTCDateTime))  # stored as the column stores it (text on SQLite)
    await session.execute(text(THIRD_MISSED + where).bindparams(*typed), values)


async def do_answer_mood(session: AsyncSession, now: datetime, checkin: CheckIn, mood: int) -> None:
    """Record a feelings-scale answer (1 very low .. 5 great)."""
    if mood not in MOODS:
        raise ValueError(f"mood {mood!r} is not on the scale {MOODS}")
    checkin.mood = mood
    await _answered(session, now, checkin, "mood")


async def do_answer_talk(session: AsyncSession, now: datetime, checkin: CheckIn) -> Flag:
    """Record 'I want to talk to my worker' and raise the 'wants contact' flag at once."""
    await _answered(session, now, checkin, "talk")
    return await do_raise_flag(session, now, checkin.young_person_id, "wants_contact", checkin_id=checkin.id, reason="talk")


async def do_answer_contact(session: AsyncSession, now: datetime, checkin: CheckIn, *, wants: bool) -> Flag | None:
    """Record whether they want their worker to get in touch after a low answer; yes raises a flag."""
    checkin.wants_contact = wants
    await session.flush()
    if not wants:
        return None
    return await do_raise_flag(session, now, checkin.young_person_id, "wants_contact", checkin_id=checkin.id, reason="low_mood")


async def do_answer_good_news(session: AsyncSession, now: datetime, checkin: CheckIn) -> None:
    """Record that they have good news to share (their words follow as a message)."""
    await _answered(session, now, checkin, "good_news")


async def do_record_words(session: AsyncSession, now: datetime, checkin: CheckIn, message: Message, *, good_news: bool) -> None:
    """Link their own words to the check-in: a free-text answer, or the good news they shared."""
    checkin.answer_message_id = message.id
    if good_news:
        # A new dict, so the JSON column sees the change.
        message.meta = {**(message.meta or {}), "good_news": True, "checkin_id": checkin.id}
    elif checkin.answered_at is None:
        await _answered(session, now, checkin, "text")
    await session.flush()


async def missed_in_a_row(session: AsyncSession, young_person_id: int, limit: int = 60) -> int:
    """Count the scheduled check-ins missed since the last answer."""
    count = 0
    for checkin in await recent_checkins(session, young_person_id, limit):
        if checkin.answered_at is not None:
            break
        if checkin.missed:
            count += 1
    return count


async def has_channel(session: AsyncSession, young_person_id: int) -> bool:
    return await session.scalar(select(ChannelLink.id).where(ChannelLink.young_person_id == young_person_id).limit(1)) is not None


async def run_checkin(ctx: JobContext) -> Outcome:
    """Send a scheduled check-in, unless it is quiet now or a newer one is already due; then plan the next."""
    if ctx.young_person is None or ctx.young_person.left_service_at is not None:
        return dropped("young person gone or case closed")
    tz, yp_id = ctx.rt.settings.tz, ctx.young_person.id
    schedule = await get_schedule(ctx.session, yp_id)
    if schedule is None or not schedule.days:
        return dropped("no check-in days set")
    due = datetime.fromisoformat(ctx.job.payload.get("due") or ctx.job.due_at.isoformat())
    following = occurrences(schedule, due, tz, limit=1)
    if following and following[0][1] <= ctx.now:
        # Fell due while the service was down and the next one is due too: one check-in, not two.
        await do_plan_checkin(ctx.session, ctx.now, yp_id, tz, schedule=schedule)
        return dropped("overtaken by the next check-in")
    if is_paused(ctx.young_person):  # /stop: skip this one, keep the schedule for /start
        await do_plan_checkin(ctx.session, ctx.now, yp_id, tz, schedule=schedule)
        return dropped(PAUSED)
    if (quiet := ctx.quiet_deferral()) is not None:
        return quiet
    if not await has_channel(ctx.session, yp_id):
        await do_plan_checkin(ctx.session, ctx.now, yp_id, tz, schedule=schedule)
        return dropped("not linked yet")
    checkin = await do_send_checkin(ctx, CheckInSource.SCHEDULED)
    ctx.events.append(("checkin", {"checkin_id": checkin.id}))
    await do_plan_checkin(ctx.session, ctx.now, yp_id, tz, schedule=schedule)
    return done(f"check-in {checkin.id}")


async def run_follow_up(ctx: JobContext) -> Outcome:
    """After a scheduled check-in: nudge once if there is no answer, and later record it as missed."""
    checkin = await ctx.session.get(CheckIn, ctx.job.payload.get("checkin_id", 0))
    if checkin is None or ctx.young_person is None:
        return dropped("check-in gone")
    if checkin.answered_at is not None:
        return dropped("answered")
    if is_paused(ctx.young_person):  # /stop: no nudge, and not counted as missed
        return dropped(PAUSED)
    miss_at = checkin.sent_at + MISS_AFTER
    if ctx.now >= miss_at:
        return await _miss(ctx, checkin)
    latest = await latest_checkin(ctx.session, checkin.young_person_id)
    if checkin.nudged_at is None and is_open(checkin, latest) and ctx.now <= checkin.sent_at + NUDGE_UNTIL:
        if (quiet := ctx.quiet_deferral()) is not None:
            # Wait for the morning, unless by then a nudge would be too late to help.
            late = quiet.retry_at is None or quiet.retry_at > checkin.sent_at + NUDGE_UNTIL
            return defer(miss_at, "quiet hours: no nudge") if late else quiet
        await ctx.say("checkin.nudge", purpose="checkin_nudge", buttons=checkin_buttons(ctx, checkin), worker=worker_name(ctx))
        checkin.nudged_at = ctx.now
        return defer(miss_at, "nudged")
    return defer(miss_at, "no nudge")


async def _miss(ctx: JobContext, checkin: CheckIn) -> Outcome:
    checkin.missed, checkin.missed_at = True, ctx.now
    state = await ctx.session.get(ConversationState, checkin.young_person_id)
    if state is not None and state.flow == FLOW and state.data.get("checkin_id") == checkin.id:
        await ctx.session.delete(state)  # a message tomorrow is a message, not a late answer
    await ctx.session.flush()
    await mark_misses_in_a_row(ctx.session, checkin.young_person_id, checkin.sent_at)
    missed = await missed_in_a_row(ctx.session, checkin.young_person_id)
    if missed >= ctx.rt.settings.checkin_missed_flag_after:
        await do_raise_flag(ctx.session, ctx.now, checkin.young_person_id, "not_heard_from", missed=missed)
        ctx.events.append(("flag", {"kind": "not_heard_from"}))
    return done(f"missed ({missed} in a row)")


async def open_checkin_flags(session: AsyncSession, young_person_id: int) -> list[Flag]:
    """Return the open flags check-ins raise for a young person, oldest first."""
    rows = await session.scalars(
        select(Flag)
        .where(Flag.young_person_id == young_person_id, Flag.kind.in_(FLAG_KINDS), Flag.cleared_at.is_(None))
        .order_by(Flag.raised_at, Flag.id)
    )
    return list(rows)


async def do_clear_checkin_flag(session: AsyncSession, now: datetime, flag: Flag, staff: StaffMember) -> int:
    """Mark a check-in flag done by a worker; return how many open flags of its kind were cleared."""
    if flag.kind not in FLAG_KINDS:
        raise ValueError(f"flag {flag.id} of kind {flag.kind!r} is not a check-in flag")
    return await do_clear_flags(session, now, flag.young_person_id, flag.kind, cleared_by_id=staff.id)
