"""Wellbeing prompts: each young person's plan (which questions, how often) and the job that sends them."""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.scheduler import JobContext, Outcome, do_cancel_jobs, do_schedule_job, done, dropped
from bot.services.hours import at_local
from bot.services.opt_out import PAUSED, is_paused
from bot.services.questionnaire import get_questionnaire
from bot.services.wellbeing import ASKED_ON_THEIR_OWN, do_start_response, intro_buttons, questionnaire_of, worker_name
from models import ChannelLink, StaffMember, WellbeingPlan, WellbeingResponse, YoungPerson

PROMPT_JOB = "wellbeing"
DEFAULT_QUESTIONNAIRE = "ons4"
DEFAULT_FREQUENCY = "monthly"
# Frequency -> (days, months) between prompts; "off" sends none (the young person can still ask).
FREQUENCIES: dict[str, tuple[int, int] | None] = {
    "weekly": (7, 0),
    "fortnightly": (14, 0),
    "monthly": (0, 1),
    "quarterly": (0, 3),
    "off": None,
}
PROMPT_TIME = "17:00"  # local: after school or college, well before the usual quiet hours


class WellbeingError(ValueError):
    """A plan that cannot be saved, with a message fit to show a worker."""


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def next_due(after: datetime, frequency: str, tz: ZoneInfo) -> datetime | None:
    """Return when the prompt after one on a given day is due: one period on, at the local prompt time."""
    period = FREQUENCIES.get(frequency)
    if period is None:
        return None
    days, months = period
    day = after.astimezone(tz).date()
    return at_local(_add_months(day, months) + timedelta(days=days), PROMPT_TIME, tz)


def plan_key_prefix(young_person_id: int) -> str:
    return f"{PROMPT_JOB}:{young_person_id}:plan:"


async def get_plan(session: AsyncSession, young_person_id: int) -> WellbeingPlan | None:
    return await session.get(WellbeingPlan, young_person_id)


async def _schedule(session: AsyncSession, now: datetime, plan: WellbeingPlan, tz: ZoneInfo, due: datetime | None) -> None:
    """Replace the plan's pending prompt with one at a new time (or none)."""
    await do_cancel_jobs(session, now, key_prefix=plan_key_prefix(plan.young_person_id))
    plan.revision += 1
    plan.next_due_at = due
    if due is not None:
        await do_schedule_job(
            session, now, kind=PROMPT_JOB, key=f"{plan_key_prefix(plan.young_person_id)}{plan.revision}",
            due_at=due, young_person_id=plan.young_person_id,
            payload={"revision": plan.revision, "due": due.isoformat()},
        )
    await session.flush()


def _first_due(start: datetime, now: datetime, frequency: str, tz: ZoneInfo) -> datetime | None:
    due = next_due(start, frequency, tz)
    while due is not None and due <= now:
        due = next_due(due, frequency, tz)
    return due


async def do_ensure_plan(session: AsyncSession, now: datetime, young_person: YoungPerson, tz: ZoneInfo) -> WellbeingPlan:
    """Give a young person the default plan (monthly, from when they linked) unless they have one."""
    plan = await get_plan(session, young_person.id)
    if plan is not None:
        return plan
    plan = WellbeingPlan(
        young_person_id=young_person.id, questionnaire=DEFAULT_QUESTIONNAIRE, frequency=DEFAULT_FREQUENCY,
        revision=0, updated_at=now,
    )
    session.add(plan)
    await session.flush()
    await _schedule(session, now, plan, tz, _first_due(young_person.linked_at or now, now, plan.frequency, tz))
    return plan


async def do_set_plan(
    session: AsyncSession,
    now: datetime,
    young_person: YoungPerson,
    tz: ZoneInfo,
    *,
    questionnaire: str,
    frequency: str,
    staff: StaffMember,
) -> WellbeingPlan:
    """Save a worker's choice of questionnaire and frequency; the next prompt is one period from now."""
    if get_questionnaire(questionnaire) is None or questionnaire in ASKED_ON_THEIR_OWN:
        raise WellbeingError(f"There is no questionnaire called {questionnaire}.")
    if frequency not in FREQUENCIES:
        raise WellbeingError(f"There is no frequency called {frequency}: choose {', '.join(FREQUENCIES)}.")
    plan = await do_ensure_plan(session, now, young_person, tz)
    changed_frequency = plan.frequency != frequency
    plan.questionnaire, plan.frequency = questionnaire, frequency
    plan.updated_at, plan.updated_by_id = now, staff.id
    if changed_frequency or plan.next_due_at is None:
        await _schedule(session, now, plan, tz, _first_due(now, now, frequency, tz))
    await session.flush()
    return plan


async def do_send_now(session: AsyncSession, now: datetime, young_person: YoungPerson, staff: StaffMember) -> None:
    """Queue a one-off prompt for the next scheduler tick (it still waits for quiet hours to end)."""
    await do_schedule_job(
        session, now, kind=PROMPT_JOB, key=f"{PROMPT_JOB}:{young_person.id}:once:{now.timestamp():.0f}",
        due_at=now, young_person_id=young_person.id, payload={"once": True, "by": staff.id},
    )


async def _has_channel(session: AsyncSession, young_person_id: int) -> bool:
    found = await session.scalar(select(ChannelLink.id).where(ChannelLink.young_person_id == young_person_id).limit(1))
    return found is not None


async def _answered_lately(
    session: AsyncSession, young_person_id: int, now: datetime, due: datetime, frequency: str, tz: ZoneInfo
) -> bool:
    """Say whether they finished a questionnaire in the last half period (say, one they asked for themselves)."""
    following = next_due(due, frequency, tz)
    if following is None:
        return False
    since = now - (following - due) / 2
    found = await session.scalar(
        select(WellbeingResponse.id)
        .where(
            WellbeingResponse.young_person_id == young_person_id,
            WellbeingResponse.completed_at >= since,
            WellbeingResponse.questionnaire.not_in(ASKED_ON_THEIR_OWN),
        )
        .limit(1)
    )
    return found is not None


async def run_prompt(ctx: JobContext) -> Outcome:
    """Send a wellbeing prompt when it falls due (after quiet hours), then plan the next one."""
    young_person, payload, tz = ctx.young_person, ctx.job.payload, ctx.rt.settings.tz
    if young_person is None:
        return dropped("young person gone")
    plan = await do_ensure_plan(ctx.session, ctx.now, young_person, tz)
    once = bool(payload.get("once"))
    if not once and (payload.get("revision") != plan.revision or plan.frequency == "off"):
        return dropped("plan changed")
    if (quiet := ctx.quiet_deferral()) is not None:
        return quiet
    if not once:
        # However many fell due while the service was down, this sends one, and the next is after now.
        due = datetime.fromisoformat(payload["due"])
        await _schedule(ctx.session, ctx.now, plan, tz, _first_due(due, ctx.now, plan.frequency, tz))
        if await _answered_lately(ctx.session, young_person.id, ctx.now, due, plan.frequency, tz):
            return done("answered lately: not asked again so soon")
    if not await _has_channel(ctx.session, young_person.id):
        return dropped("not linked yet")
    if is_paused(young_person):  # /stop: skip this one; the next is already planned for /start
        return dropped(PAUSED)
    response = await do_start_response(
        ctx.session, ctx.now, young_person, plan.questionnaire, "worker" if once else "scheduled"
    )
    questionnaire = questionnaire_of(response)
    await ctx.say(
        "wellbeing.intro", purpose="wellbeing_intro", buttons=intro_buttons(ctx, response),
        name=young_person.preferred_name, worker=worker_name(ctx), count=len(questionnaire.questions),
    )
    ctx.events.append(("wellbeing", {"response_id": response.id}))
    return done(f"response {response.id}")
