"""Private notes on a young person: written and read by their team, every read and write audited."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.audit import do_audit
from models import Note, StaffMember, YoungPerson

MAX_NOTE_LENGTH = 10_000


class NoteError(ValueError):
    """A note that cannot be saved, with a message fit to show."""


async def notes(session: AsyncSession, young_person_id: int, limit: int = 50) -> list[Note]:
    """List the newest notes on a young person, newest first."""
    rows = await session.scalars(
        select(Note)
        .where(Note.young_person_id == young_person_id)
        .order_by(Note.written_at.desc(), Note.id.desc())
        .limit(limit)
    )
    return list(rows)


async def do_read_notes(
    session: AsyncSession, now: datetime, young_person: YoungPerson, staff: StaffMember
) -> list[Note]:
    """Read a young person's notes, recording in the audit log who looked."""
    found = await notes(session, young_person.id)
    do_audit(session, now, "view_notes", actor_id=staff.id, young_person_id=young_person.id,
             target=f"young_person:{young_person.id}")
    return found


async def do_write_note(
    session: AsyncSession, now: datetime, young_person: YoungPerson, staff: StaffMember, body: str
) -> Note:
    """Add a private note, and record that it was written (never what it says)."""
    body = body.strip()
    if not body:
        raise NoteError("Please write the note.")
    if len(body) > MAX_NOTE_LENGTH:
        raise NoteError(f"That note is too long ({MAX_NOTE_LENGTH} characters at most).")
    note = Note(young_person_id=young_person.id, staff_id=staff.id, body=body, written_at=now)
    session.add(note)
    await session.flush()
    do_audit(session, now, "write_note", actor_id=staff.id, young_person_id=young_person.id, target=f"note:{note.id}")
    return note
