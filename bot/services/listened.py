"""'Did you feel listened to?': asked the day after a young person talked with staff, once a calendar month at most.

A staff reply to a young person who wrote in the last two days plans a job for the next afternoon
(`do_plan_listened`). When it runs, the question is sent unless it would not be kind or useful: they
sent /stop, an alert or a missing episode is open, they left the service, or they were asked already
this calendar month (checked against what was sent, so nothing can send it twice in a month). It
waits for quiet hours to end like every prompt. The answer is stored as a one-question wellbeing
response (questionnaire "listened", values 2 yes, 1 a bit, 0 no); a "no" raises a flag for the worker.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.scheduler import JobContext, Outcome, defer, do_schedule_job, done, dropped
from bot.services.flag import do_raise_flag
from bot.services.hours import at_local
from bot.services.opt_out import PAUSED, is_paused
from bot.services.questionnaire import localised
from bot.services.speaker import Buttons, Speaker
from bot.services.wellbeing import CARRY_ON_WITHIN, do_record_answer, questionnaire_of
from models import (
    Alert,
    ChannelLink,
    ConversationState,
    Direction,
    Job,
    JobState,
    Message,
    MissingEpisode,
    ResponseStatus,
    SenderKind,
    StaffMember,
    WellbeingResponse,
    YoungPerson,
)

QUESTIONNAIRE = "listened"
JOB = "listened"
FLAG = "not_listened"
ASK_AT = "16:00"  # local, the next day: after school or college, before the evening
TALKED_WITHIN = timedelta(days=2)  # a staff reply counts as a conversation if they wrote this recently
BUSY_WAIT = timedelta(hours=1)  # another question waiting for an answer: ask this one later
THANKS = {2: "listened.thanks_yes", 1: "listened.thanks_bit", 0: "listened.thanks_no"}


def month_start(moment: datetime, tz: ZoneInfo) -> datetime:
    """Return the start of the local calendar month a moment falls in."""
    local = moment.astimezone(tz).date()
    return at_local(date(local.year, local.month, 1), "00:00", tz)


async def asked_since(session: AsyncSession, young_person_id: int, since: datetime) -> bool:
    """Say whether the question was sent to a young person since a moment."""
    found = await session.scalar(
        select(WellbeingResponse.id)
        .where(
            WellbeingResponse.young_person_id == young_person_id,
            WellbeingResponse.questionnaire == QUESTIONNAIRE,
            WellbeingResponse.started_at >= since,
        )
        .limit(1)
    )
    return found is not None


async def do_plan_listened(session: AsyncSession, now: datetime, young_person: YoungPerson, tz: ZoneInfo) -> Job | None:
    """After a staff reply, plan the question for tomorrow afternoon if they talked lately and were not asked this month."""
    if young_person.linked_at is None or young_person.last_inbound_at is None or now - young_person.last_inbound_at > TALKED_WITHIN:
        return None
    day = now.astimezone(tz).date() + timedelta(days=1)
    due = at_local(day, ASK_AT, tz)
    if await asked_since(session, young_person.id, month_start(due, tz)):
        return None
    pending = await session.scalar(
        select(Job).where(Job.key.startswith(f"{JOB}:{young_person.id}:", autoescape=True), Job.state == JobState.PENDING).limit(1)
    )
    if pending is not None:
        return pending
    # One job a day at most; the month rule itself is checked when the job runs.
    return await do_schedule_job(
        session, now, kind=JOB, key=f"{JOB}:{young_person.id}:{day.isoformat()}", due_at=due, young_person_id=young_person.id
    )


async def _why_not(ctx: JobContext, young_person: YoungPerson) -> str | None:
    """Name the reason not to ask now, or None when it is fine to ask."""
    session, person_id = ctx.session, young_person.id
    if young_person.erased_at is not None or young_person.left_service_at is not None:
        return "left the service"
    if is_paused(young_person):
        return PAUSED
    if await asked_since(session, person_id, month_start(ctx.now, ctx.rt.settings.tz)):
        return "asked already this month"
    if await session.scalar(select(Alert.id).where(Alert.young_person_id == person_id, Alert.closed_at.is_(None)).limit(1)):
        return "a safeguarding alert is open"
    if await session.scalar(select(MissingEpisode.id).where(MissingEpisode.young_person_id == person_id, MissingEpisode.ended_at.is_(None)).limit(1)):
        return "missing from care"
    if not await session.scalar(select(ChannelLink.id).where(ChannelLink.young_person_id == person_id).limit(1)):
        return "not linked"
    return None


async def _replied_by(session: AsyncSession, young_person: YoungPerson, fallback: StaffMember | None) -> str:
    """Name the member of staff who replied last: the question is about them."""
    staff_id = await session.scalar(
        select(Message.staff_id)
        .where(Message.young_person_id == young_person.id, Message.direction == Direction.OUTBOUND, Message.sender_kind == SenderKind.STAFF)
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(1)
    )
    staff = await session.get(StaffMember, staff_id) if staff_id else fallback
    return staff.display_name if staff else ""


def answer_buttons(speaker: Speaker, response: WellbeingResponse) -> Buttons:
    """Offer the answers as buttons, one to a row: "ls:<response>:<value>"."""
    question = questionnaire_of(response).questions[0]
    language = speaker.young_person.language if speaker.young_person else "en"
    return [[{"label": localised(o.label, language), "data": f"ls:{response.id}:{o.value}"}] for o in question.options]


async def run_listened(ctx: JobContext) -> Outcome:
    """Ask 'did you feel listened to?' when it is kind and useful to, after quiet hours."""
    young_person = ctx.young_person
    if young_person is None:
        return dropped("young person gone")
    if (reason := await _why_not(ctx, young_person)) is not None:
        return dropped(reason)
    if (quiet := ctx.quiet_deferral()) is not None:
        return quiet
    waiting = await ctx.session.get(ConversationState, young_person.id)
    if waiting is not None and ctx.now - waiting.updated_at < BUSY_WAIT:
        return defer(ctx.now + BUSY_WAIT, f"a {waiting.flow} question is waiting for an answer")
    # An older question never answered is closed: only this month's can be answered now.
    await ctx.session.execute(
        update(WellbeingResponse)
        .where(WellbeingResponse.young_person_id == young_person.id, WellbeingResponse.questionnaire == QUESTIONNAIRE,
               WellbeingResponse.status == ResponseStatus.OPEN)
        .values(status=ResponseStatus.CLOSED, updated_at=ctx.now)
    )
    response = WellbeingResponse(
        young_person_id=young_person.id, questionnaire=QUESTIONNAIRE, language=young_person.language,
        trigger="scheduled", status=ResponseStatus.OPEN, started_at=ctx.now, updated_at=ctx.now, scores={},
    )
    ctx.session.add(response)
    await ctx.session.flush()
    worker = await _replied_by(ctx.session, young_person, ctx.key_worker)
    question = questionnaire_of(response).questions[0]
    await ctx.say(
        "listened.ask", purpose="listened_question", buttons=answer_buttons(ctx, response),
        name=young_person.preferred_name, question=localised(question.text, young_person.language).format(name=young_person.preferred_name, worker=worker),
    )
    ctx.events.append(("wellbeing", {"response_id": response.id}))
    return done(f"response {response.id}")


def can_answer(response: WellbeingResponse, now: datetime) -> bool:
    """Say whether the question can still be answered: open, and sent within the last week."""
    return response.status == ResponseStatus.OPEN and now - response.started_at <= CARRY_ON_WITHIN


async def do_answer_listened(session: AsyncSession, now: datetime, response: WellbeingResponse, value: int) -> str:
    """Store the answer, flag a 'no' to the worker, and return the content key of the thank-you."""
    await do_record_answer(session, now, response, 0, value=value)
    if value == questionnaire_of(response).questions[0].min:  # the lowest answer is "no"
        await do_raise_flag(session, now, response.young_person_id, FLAG, response_id=response.id)
    return THANKS.get(value, "listened.thanks_bit")
