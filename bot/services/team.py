"""The team around a young person: who may see them, adding and removing hub staff, handovers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.base import NO_VALUE

from bot.content import Content
from bot.services.audit import do_audit
from bot.services.message import do_queue_outbound, reply_link
from models import Handover, LeavePeriod, Message, StaffMember, StaffRole, TeamMember, YoungPerson

MAX_ROLE_LENGTH = 60
MAX_NOTE_LENGTH = 4000


class TeamError(ValueError):
    """A team change that cannot be made, with a message fit to show."""


def visible_to(staff_id: int) -> ColumnElement[bool]:
    """Select the young people a staff member looks after now: own, on their team, or covered."""
    on_team = select(TeamMember.young_person_id).where(
        TeamMember.staff_id == staff_id, TeamMember.removed_at.is_(None)
    )
    covering_for = select(LeavePeriod.staff_id).where(
        LeavePeriod.cover_id == staff_id,
        LeavePeriod.cover_started_at.is_not(None),
        LeavePeriod.cover_ended_at.is_(None),
    )
    return or_(
        YoungPerson.key_worker_id == staff_id,
        YoungPerson.id.in_(on_team),
        YoungPerson.key_worker_id.in_(covering_for),
    )


async def looks_after(session: AsyncSession, staff: StaffMember, young_person_id: int) -> bool:
    """Ask the database whether a staff member looks after a young person now."""
    if not staff.active:
        return False
    found = await session.scalar(
        select(exists().where(YoungPerson.id == young_person_id, visible_to(staff.id)))
    )
    return bool(found)


def _loaded(young_person: YoungPerson, name: str) -> list:  # type: ignore[type-arg]
    # A young person made in this session has nothing loaded yet (and no team or cover to load);
    # reading the attribute would try a lazy load, which an async session cannot do.
    # What AttributeState.loaded_value reads, without `attrs` building a state for every attribute each time.
    value = sa_inspect(young_person).dict.get(name, NO_VALUE)
    return [] if value is NO_VALUE or value is None else list(value)


def watchers(young_person: YoungPerson) -> frozenset[int]:
    """Name the staff besides the key worker who look after a young person now (team and cover)."""
    team = {member.staff_id for member in _loaded(young_person, "current_team")}
    cover = {leave.cover_id for leave in _loaded(young_person, "current_cover")}
    return frozenset(team | cover)


async def current_team(session: AsyncSession, young_person_id: int) -> list[tuple[TeamMember, StaffMember]]:
    """List the young person's current team members with their accounts, in the order added."""
    rows = await session.execute(
        select(TeamMember, StaffMember)
        .join(StaffMember, StaffMember.id == TeamMember.staff_id)
        .where(TeamMember.young_person_id == young_person_id, TeamMember.removed_at.is_(None))
        .order_by(TeamMember.added_at, TeamMember.id)
    )
    return [(member, staff) for member, staff in rows.all()]


async def teams_of(session: AsyncSession, staff_id: int) -> list[tuple[TeamMember, YoungPerson]]:
    """List the young people whose team a staff member is on."""
    rows = await session.execute(
        select(TeamMember, YoungPerson)
        .join(YoungPerson, YoungPerson.id == TeamMember.young_person_id)
        .where(TeamMember.staff_id == staff_id, TeamMember.removed_at.is_(None))
        .order_by(YoungPerson.preferred_name)
    )
    return [(member, person) for member, person in rows.all()]


async def sender_label(session: AsyncSession, staff_id: int, young_person_id: int) -> str | None:
    """Name who is writing as the young person sees it: 'Kai (life coach)' for a team member."""
    staff = await session.get(StaffMember, staff_id)
    if staff is None:
        return None
    role = await session.scalar(
        select(TeamMember.role).where(
            TeamMember.staff_id == staff_id,
            TeamMember.young_person_id == young_person_id,
            TeamMember.removed_at.is_(None),
        )
    )
    return f"{staff.display_name} ({role})" if role else staff.display_name


def may_manage(staff: StaffMember, young_person: YoungPerson) -> bool:
    """Say whether a staff member may change the team or hand over: the key worker or a manager."""
    return staff.active and (
        staff.role in (StaffRole.MANAGER, StaffRole.ADMIN) or young_person.key_worker_id == staff.id
    )


async def do_add_team_member(
    session: AsyncSession,
    now: datetime,
    young_person: YoungPerson,
    member: StaffMember,
    *,
    role: str,
    added_by: StaffMember,
) -> TeamMember:
    """Put a member of hub staff on a young person's team under a role the young person will see."""
    role = " ".join(role.split())
    if not role:
        raise TeamError("Please say what they do for the young person, for example 'life coach'.")
    if len(role) > MAX_ROLE_LENGTH:
        raise TeamError(f"That role is too long ({MAX_ROLE_LENGTH} characters at most).")
    if not member.active:
        raise TeamError(f"{member.display_name} no longer has an active account.")
    if member.id == young_person.key_worker_id:
        raise TeamError(f"{member.display_name} is already the key worker.")
    already = await session.scalar(
        select(TeamMember.id).where(
            TeamMember.young_person_id == young_person.id,
            TeamMember.staff_id == member.id,
            TeamMember.removed_at.is_(None),
        )
    )
    if already is not None:
        raise TeamError(f"{member.display_name} is already on the team.")
    row = TeamMember(
        young_person_id=young_person.id, staff_id=member.id, role=role, added_at=now, added_by_id=added_by.id
    )
    session.add(row)
    do_audit(session, now, "team_added", actor_id=added_by.id, young_person_id=young_person.id, target=f"staff:{member.id}")
    await session.flush()
    await session.refresh(young_person, ["current_team"])
    return row


async def do_remove_team_member(
    session: AsyncSession, now: datetime, young_person: YoungPerson, member: TeamMember, *, removed_by: StaffMember
) -> None:
    """Take someone off a young person's team; the record of their time on it stays."""
    if member.young_person_id != young_person.id or member.removed_at is not None:
        raise TeamError("They are not on this team any more.")
    member.removed_at, member.removed_by_id = now, removed_by.id
    do_audit(session, now, "team_removed", actor_id=removed_by.id, young_person_id=young_person.id, target=f"staff:{member.staff_id}")
    await session.flush()
    await session.refresh(young_person, ["current_team"])


async def do_hand_over(
    session: AsyncSession,
    now: datetime,
    young_person: YoungPerson,
    to_worker: StaffMember,
    *,
    by: StaffMember,
    note: str = "",
) -> Handover:
    """Make another worker the key worker, and record who did it, when and why."""
    note = note.strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise TeamError(f"That note is too long ({MAX_NOTE_LENGTH} characters at most).")
    if to_worker.id == young_person.key_worker_id:
        raise TeamError(f"{to_worker.display_name} is already the key worker.")
    if to_worker.role != StaffRole.KEY_WORKER or not to_worker.active:
        raise TeamError(f"{to_worker.display_name} is not an active key worker.")
    handover = Handover(
        young_person_id=young_person.id,
        from_staff_id=young_person.key_worker_id,
        to_staff_id=to_worker.id,
        by_staff_id=by.id,
        at=now,
        note=note,
    )
    session.add(handover)
    # The new key worker no longer needs a separate team place.
    for member in await session.scalars(
        select(TeamMember).where(
            TeamMember.young_person_id == young_person.id,
            TeamMember.staff_id == to_worker.id,
            TeamMember.removed_at.is_(None),
        )
    ):
        member.removed_at, member.removed_by_id = now, by.id
    young_person.key_worker_id = to_worker.id
    do_audit(
        session, now, "handover", actor_id=by.id, young_person_id=young_person.id,
        target=f"staff:{to_worker.id}", from_staff=handover.from_staff_id,
    )
    await session.flush()
    await session.refresh(young_person, ["current_team", "current_cover"])
    return handover


async def handovers(session: AsyncSession, young_person_id: int) -> list[Handover]:
    """Return a young person's handovers, newest first."""
    rows = await session.scalars(
        select(Handover).where(Handover.young_person_id == young_person_id).order_by(Handover.at.desc(), Handover.id.desc())
    )
    return list(rows)


async def do_tell_handover(
    session: AsyncSession,
    now: datetime,
    content: Content,
    young_person: YoungPerson,
    *,
    old_worker: StaffMember,
    new_worker: StaffMember,
) -> Message | None:
    """Queue the message that tells a linked young person who their new key worker is."""
    if await reply_link(session, young_person.id) is None:
        return None  # not linked yet: the welcome will name the new worker
    text = content.text(
        "team.handover",
        young_person.language,
        name=young_person.preferred_name,
        new_worker=new_worker.display_name,
        old_worker=old_worker.display_name,
    )
    return await do_queue_outbound(session, now, young_person, body=text, purpose="handover")
