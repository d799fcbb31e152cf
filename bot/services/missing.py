"""Missing from care: gentle 'are you safe?' messages, any reply alerts people at once, times recorded."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.scheduler import JobContext, Outcome, do_cancel_jobs, do_schedule_job, done, dropped
from bot.services.alert import do_raise_alert
from bot.services.flag import do_clear_flags, do_raise_flag
from models import MissingEpisode, YoungPerson

CHECK_JOB = "missing_check"
# Gentle: after 0, 1, 3, 6 and 12 hours, then once a day. Quiet hours do not apply.
SCHEDULE = [timedelta(0), timedelta(hours=1), timedelta(hours=3), timedelta(hours=6), timedelta(hours=12)]
DAILY = timedelta(hours=24)


class MissingError(ValueError):
    """A missing-episode change that cannot be made, with a message fit to show."""


def safe_button(episode_id: int) -> str:
    return f"missing:{episode_id}:safe"


def delay_after(sent: int) -> timedelta:
    """Return how long after the start the next message goes, given how many were sent."""
    if sent < len(SCHEDULE):
        return SCHEDULE[sent]
    return SCHEDULE[-1] + DAILY * (sent - len(SCHEDULE) + 1)


async def open_episode(session: AsyncSession, young_person_id: int) -> MissingEpisode | None:
    return await session.scalar(
        select(MissingEpisode).where(MissingEpisode.young_person_id == young_person_id, MissingEpisode.ended_at.is_(None))
    )


async def do_mark_missing(session: AsyncSession, now: datetime, young_person: YoungPerson, staff_id: int, note: str) -> MissingEpisode:
    """Start a missing episode and the gentle messages that go with it."""
    if await open_episode(session, young_person.id) is not None:
        raise MissingError(f"{young_person.preferred_name} is already marked missing.")
    episode = MissingEpisode(young_person_id=young_person.id, started_at=now, started_by_id=staff_id, note=note.strip()[:2000])
    session.add(episode)
    await session.flush()
    await do_raise_flag(session, now, young_person.id, "missing", episode_id=episode.id)
    await do_schedule_job(
        session, now, kind=CHECK_JOB, key=f"missing:{episode.id}:check:0", due_at=now,
        young_person_id=young_person.id, payload={"episode_id": episode.id},
    )
    return episode


async def do_end_missing(session: AsyncSession, now: datetime, episode: MissingEpisode, staff_id: int, note: str) -> None:
    """Close a missing episode: they are back or found safe."""
    if episode.ended_at is not None:
        raise MissingError("This episode has already ended.")
    episode.ended_at, episode.ended_by_id, episode.end_note = now, staff_id, note.strip()[:2000]
    await do_cancel_jobs(session, now, key_prefix=f"missing:{episode.id}:")
    await do_clear_flags(session, now, episode.young_person_id, "missing", cleared_by_id=staff_id)
    await session.flush()


async def do_record_contact(
    session: AsyncSession, now: datetime, young_person: YoungPerson, episode: MissingEpisode, message_id: int | None
) -> bool:
    """Record that a missing young person was in touch and alert people at once; True the first time."""
    first = episode.first_contact_at is None
    if first:
        episode.first_contact_at = now
    # Escalating straight away: the duty rota and managers hear at once, not after the usual wait.
    await do_raise_alert(
        session, now, young_person, level="urgent", categories=["missing"], source="missing_reply",
        message_id=message_id, escalate_after=timedelta(0),
    )
    return first


async def run_missing_check(ctx: JobContext) -> Outcome:
    """Send one 'we just want to know you're safe' message and plan the next, gently."""
    episode = await ctx.session.get(MissingEpisode, ctx.job.payload["episode_id"])
    if episode is None or episode.ended_at is not None:
        return dropped("episode ended")
    if episode.first_contact_at is not None:
        return dropped("they have been in touch")
    worker = ctx.key_worker.display_name if ctx.key_worker else ""
    await ctx.say(
        "missing.are_you_safe",
        purpose="missing_check",
        buttons=[[{"label": ctx.text("missing.safe_button"), "data": safe_button(episode.id)}]],
        name=ctx.young_person.preferred_name if ctx.young_person else "",
        worker=worker,
    )
    episode.messages_sent += 1
    await do_schedule_job(
        ctx.session, ctx.now, kind=CHECK_JOB, key=f"missing:{episode.id}:check:{episode.messages_sent}",
        due_at=episode.started_at + delay_after(episode.messages_sent),
        young_person_id=episode.young_person_id, payload={"episode_id": episode.id},
    )
    return done(f"message {episode.messages_sent}")
