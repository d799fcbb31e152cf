"""Flags: raise one when a young person needs attention, clear it when a worker has acted."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import Flag

# What each flag says on the caseload; the order is how urgent it is.
LABELS = {
    "risk_urgent": "Urgent safeguarding alert",
    "missing": "Missing from care",
    "risk_concern": "Safeguarding concern",
    "undelivered": "A message could not be processed",
    "wants_contact": "Wants you to get in touch",
    "appointment_cant": "Can't make an appointment",
    "appointment_help": "Needs help with an appointment",
    "not_listened": "Didn't feel listened to",
    "not_heard_from": "Not heard from",
    "data_request": "Asked for a copy of their data",
    "opted_out": "Stopped check-ins and reminders",
}


async def do_raise_flag(
    session: AsyncSession, now: datetime, young_person_id: int, kind: str, **detail: Any
) -> Flag:
    """Raise a flag, or return the same kind already open (one open flag per kind)."""
    existing = await session.scalar(
        select(Flag).where(Flag.young_person_id == young_person_id, Flag.kind == kind, Flag.cleared_at.is_(None))
    )
    if existing is not None:
        return existing
    flag = Flag(young_person_id=young_person_id, kind=kind, detail=detail, raised_at=now)
    session.add(flag)
    await session.flush()
    return flag


async def do_clear_flags(
    session: AsyncSession, now: datetime, young_person_id: int, kind: str, *, cleared_by_id: int | None = None
) -> int:
    """Clear the open flags of a kind; return how many."""
    result = await session.execute(
        update(Flag)
        .where(Flag.young_person_id == young_person_id, Flag.kind == kind, Flag.cleared_at.is_(None))
        .values(cleared_at=now, cleared_by_id=cleared_by_id)
    )
    return result.rowcount or 0


async def open_flags(session: AsyncSession, young_person_ids: list[int]) -> dict[int, list[Flag]]:
    """Return each young person's open flags, most urgent first."""
    if not young_person_ids:
        return {}
    rows = await session.scalars(
        select(Flag).where(Flag.young_person_id.in_(young_person_ids), Flag.cleared_at.is_(None))
    )
    found: dict[int, list[Flag]] = defaultdict(list)
    order = list(LABELS)
    for flag in rows:
        found[flag.young_person_id].append(flag)
    for flags in found.values():
        flags.sort(key=lambda f: order.index(f.kind) if f.kind in order else len(order))
    return found
