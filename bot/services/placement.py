"""Placement moves: a worker records that a young person moved home; the list for their page."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.audit import do_audit
from bot.services.hours import at_local
from models import PlacementMove, StaffMember, YoungPerson

MAX_NOTE_LENGTH = 2000
MOVED_AT_TIME = "12:00"  # midday local: the stored UTC time falls on the same date as the day given
OLDEST = timedelta(days=366 * 30)  # nobody on a caseload moved before they were born


class PlacementError(ValueError):
    """A move that cannot be recorded, with a message fit to show a worker."""


def parse_moved_on(value: str, now: datetime, tz: ZoneInfo) -> date:
    """Read the day of a move from a form: a real date, not in the future."""
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise PlacementError("Please give the date of the move.") from None
    today = now.astimezone(tz).date()
    if day > today:
        raise PlacementError("The date of a move cannot be in the future.")
    if today - day > OLDEST:
        raise PlacementError("That date is too long ago.")
    return day


async def do_record_move(
    session: AsyncSession,
    now: datetime,
    young_person: YoungPerson,
    *,
    moved_on: date,
    note: str,
    staff: StaffMember,
    tz: ZoneInfo,
) -> PlacementMove:
    """Record a placement move on a day, with an optional staff note, and audit it."""
    note = note.strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise PlacementError(f"That note is too long ({MAX_NOTE_LENGTH} characters at most).")
    move = PlacementMove(
        young_person_id=young_person.id,
        moved_at=at_local(moved_on, MOVED_AT_TIME, tz),
        recorded_by_id=staff.id,
        note=note or None,
        created_at=now,
    )
    session.add(move)
    await session.flush()
    do_audit(
        session, now, "placement_move", actor_id=staff.id, young_person_id=young_person.id,
        target=f"placement_move:{move.id}", moved_on=moved_on.isoformat(),
    )
    return move


async def moves_for(session: AsyncSession, young_person_id: int) -> list[tuple[PlacementMove, str]]:
    """List a young person's moves, newest first, each with the name of who recorded it."""
    rows = await session.execute(
        select(PlacementMove, StaffMember.display_name)
        .join(StaffMember, StaffMember.id == PlacementMove.recorded_by_id)
        .where(PlacementMove.young_person_id == young_person_id)
        .order_by(PlacementMove.moved_at.desc(), PlacementMove.id.desc())
    )
    return [(move, name) for move, name in rows.all()]
