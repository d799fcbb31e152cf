"""Canned replies: each worker's own ready-made messages, listed, written, changed and removed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import CannedReply, StaffMember, YoungPerson

MAX_TITLE_LENGTH = 80
MAX_BODY_LENGTH = 4000
MAX_PER_WORKER = 50
# A worker starts with these; they are theirs to change or delete.
STARTERS = [
    ("Got your message", "Hi {name}, I've got your message. I'll get back to you properly later today."),
    ("Checking in", "Hi {name}, just checking in. How are things today?"),
    ("Running late", "Hi {name}, I'm running about 15 minutes late. Sorry! See you soon."),
]


class CannedReplyError(ValueError):
    """A canned reply that cannot be saved, with a message fit to show."""


async def canned_replies(session: AsyncSession, staff_id: int) -> list[CannedReply]:
    """List a worker's canned replies in their order."""
    rows = await session.scalars(
        select(CannedReply).where(CannedReply.staff_id == staff_id).order_by(CannedReply.position, CannedReply.id)
    )
    return list(rows)


async def get_canned_reply(session: AsyncSession, staff_id: int, reply_id: int) -> CannedReply | None:
    """Load one of the worker's own canned replies (None for anyone else's)."""
    reply = await session.get(CannedReply, reply_id)
    return reply if reply is not None and reply.staff_id == staff_id else None


def fill(reply: CannedReply, young_person: YoungPerson) -> str:
    """Put the young person's preferred name where the reply says {name}."""
    return reply.body.replace("{name}", young_person.preferred_name)


def _checked(title: str, body: str) -> tuple[str, str]:
    title, body = title.strip(), body.strip()
    if not body:
        raise CannedReplyError("Please write the reply.")
    if len(body) > MAX_BODY_LENGTH:
        raise CannedReplyError(f"That reply is too long ({MAX_BODY_LENGTH} characters at most).")
    title = title or body.splitlines()[0]
    if len(title) > MAX_TITLE_LENGTH:
        title = title[: MAX_TITLE_LENGTH - 1] + "…"
    return title, body


async def do_seed_canned_replies(session: AsyncSession, now: datetime, staff: StaffMember) -> list[CannedReply]:
    """Give a worker the starter replies the first time they open the list."""
    made = [
        CannedReply(staff_id=staff.id, title=title, body=body, position=index, created_at=now, updated_at=now)
        for index, (title, body) in enumerate(STARTERS)
    ]
    session.add_all(made)
    await session.flush()
    return made


async def do_create_canned_reply(
    session: AsyncSession, now: datetime, staff: StaffMember, *, title: str, body: str
) -> CannedReply:
    """Add a canned reply at the end of the worker's list."""
    title, body = _checked(title, body)
    count, last = (
        await session.execute(
            select(func.count(), func.max(CannedReply.position)).where(CannedReply.staff_id == staff.id)
        )
    ).one()
    if count >= MAX_PER_WORKER:
        raise CannedReplyError(f"You have {MAX_PER_WORKER} canned replies already. Please delete one first.")
    reply = CannedReply(
        staff_id=staff.id, title=title, body=body, position=(last or 0) + 1, created_at=now, updated_at=now
    )
    session.add(reply)
    await session.flush()
    return reply


async def do_update_canned_reply(
    session: AsyncSession, now: datetime, reply: CannedReply, *, title: str, body: str
) -> CannedReply:
    """Change a canned reply's title and words."""
    reply.title, reply.body = _checked(title, body)
    reply.updated_at = now
    await session.flush()
    return reply


async def do_delete_canned_reply(session: AsyncSession, reply: CannedReply) -> None:
    """Remove a canned reply."""
    await session.delete(reply)
    await session.flush()
