"""Young people: adding them, who may see them, and the caseload view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.flag import open_flags
from models import crypto
from bot.services.team import looks_after, visible_to, watchers
from models import (
    ChannelLink,
    Flag,
    ChannelStatus,
    Direction,
    Message,
    StaffMember,
    StaffRole,
    YoungPerson,
)


class NotAllowed(Exception):
    """The staff member may not see this young person (shown as 'not found')."""


class YoungPersonError(ValueError):
    """A change to a young person that cannot be made, with a message fit to show."""


@dataclass(frozen=True)
class ChannelState:
    kind: str
    status: str


@dataclass(frozen=True)
class CaseloadRow:
    young_person: YoungPerson
    key_worker_name: str
    unread: int
    channels: tuple[ChannelState, ...]
    flags: tuple[Flag, ...] = ()

    @property
    def unreachable(self) -> bool:
        return bool(self.channels) and all(c.status == ChannelStatus.UNREACHABLE for c in self.channels)


def may_view(staff: StaffMember, young_person: YoungPerson) -> bool:
    """Say whether a staff member may read this young person's conversation (worker, cover, team)."""
    return staff.active and (young_person.key_worker_id == staff.id or staff.id in watchers(young_person))


async def get_for_staff(session: AsyncSession, staff: StaffMember, young_person_id: int) -> YoungPerson:
    """Load a young person the staff member may see, or raise NotAllowed."""
    young_person = await session.get(YoungPerson, young_person_id)
    # Asked of the database, not may_view(): a young person already in this session may be stale.
    if young_person is None or not await looks_after(session, staff, young_person_id):
        raise NotAllowed(young_person_id)
    return young_person


async def do_add_young_person(
    session: AsyncSession,
    now: datetime,
    *,
    full_name: str,
    preferred_name: str,
    key_worker: StaffMember,
    language: str = "en",
) -> YoungPerson:
    """Put a young person on a key worker's caseload."""
    full_name, preferred_name = full_name.strip(), preferred_name.strip()
    if not full_name:
        raise YoungPersonError("Please give the young person's name.")
    if len(full_name) > 200 or len(preferred_name) > 100:
        raise YoungPersonError("That name is too long (200 characters at most).")
    if key_worker.role != StaffRole.KEY_WORKER or not key_worker.active:
        raise YoungPersonError(f"{key_worker.username} is not an active key worker.")
    preferred_name = preferred_name or full_name.split()[0]
    young_person = YoungPerson(
        full_name=full_name,
        preferred_name=preferred_name,
        name_index=crypto.ring().blind_index(f"{full_name} {preferred_name}"),
        key_worker_id=key_worker.id,
        language=language,
        created_at=now,
    )
    session.add(young_person)
    await session.flush()
    return young_person


async def caseload(session: AsyncSession, staff: StaffMember, search: str = "") -> list[CaseloadRow]:
    """List the young people a staff member sees, most recent contact first, optionally by name."""
    unread = (
        select(Message.young_person_id, func.count().label("unread"))
        .where(Message.direction == Direction.INBOUND, Message.read_at.is_(None))
        .group_by(Message.young_person_id)
        .subquery()
    )
    query = (
        select(YoungPerson, StaffMember.display_name, func.coalesce(unread.c.unread, 0))
        .join(StaffMember, StaffMember.id == YoungPerson.key_worker_id)
        .outerjoin(unread, unread.c.young_person_id == YoungPerson.id)
        # An erased record keeps only counts and times, for the figures: nobody is left to look after.
        .where(YoungPerson.erased_at.is_(None))
        .order_by(
            YoungPerson.last_inbound_at.is_(None),
            YoungPerson.last_inbound_at.desc(),
            YoungPerson.id,  # names are encrypted: the database cannot sort by them
        )
    )
    for term in search.split():
        # Each word must match a keyed hash of a name part: no name is ever decrypted to search.
        query = query.where(YoungPerson.name_index.contains(crypto.ring().term(term)))
    if staff.role == StaffRole.KEY_WORKER:
        # Managers see every row (figures only); a key worker sees own, covered and team young people.
        query = query.where(visible_to(staff.id))
    rows = (await session.execute(query)).all()
    links = (
        await session.execute(
            select(ChannelLink.young_person_id, ChannelLink.kind, ChannelLink.status).where(
                ChannelLink.young_person_id.in_([row[0].id for row in rows])
            )
        )
    ).all()
    by_person: dict[int, list[ChannelState]] = {}
    for person_id, kind, status in links:
        by_person.setdefault(person_id, []).append(ChannelState(kind, status))
    flags = await open_flags(session, [row[0].id for row in rows])
    return [
        CaseloadRow(person, worker, count, tuple(by_person.get(person.id, ())), tuple(flags.get(person.id, ())))
        for person, worker, count in rows
    ]


async def unread_total(session: AsyncSession, staff: StaffMember) -> int:
    """Count unread messages across the staff member's caseload."""
    return (
        await session.scalar(
            select(func.count())
            .select_from(Message)
            .join(YoungPerson, and_(YoungPerson.id == Message.young_person_id, visible_to(staff.id)))
            .where(Message.direction == Direction.INBOUND, Message.read_at.is_(None), YoungPerson.erased_at.is_(None))
        )
    ) or 0


def audience(young_person: YoungPerson) -> frozenset[str]:
    """Name who hears live events about a young person: their worker, cover, team and own web chat."""
    staff = {young_person.key_worker_id, *watchers(young_person)}
    return frozenset({*(f"staff:{staff_id}" for staff_id in staff), f"yp:{young_person.id}"})
