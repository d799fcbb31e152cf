"""Private notes on a young person: the team writes and reads them, encrypted at rest, every look audited."""

from __future__ import annotations

import httpx
from sqlalchemy import select, text

from models import AuditEvent, Message, Note, StaffRole
from tests.conftest import Service

HTMX = {"HX-Request": "true"}
WORDS = "Sam said the new placement feels unsafe at night. Raise with the manager on Friday."


async def jo_and_sam(service: Service) -> tuple[int, httpx.AsyncClient]:
    jo = await service.staff("jo", "Jo")
    sam = await service.young_person("Samira Haddad", jo, "Sam")
    return sam.id, await service.login("jo")


async def test_a_worker_writes_a_note_that_stays_private_and_encrypted(service: Service) -> None:
    sam, console = await jo_and_sam(service)
    page = await console.get(f"/young-people/{sam}")
    assert f'hx-get="/young-people/{sam}/notes/panel"' in page.text

    empty = await console.get(f"/young-people/{sam}/notes/panel")
    assert empty.status_code == 200 and "No notes yet." in empty.text

    saved = await console.post(f"/young-people/{sam}/notes", data={"body": WORDS}, headers=HTMX)
    assert saved.status_code == 200 and "Note saved." in saved.text and WORDS in saved.text and "Jo" in saved.text

    refused = await console.post(f"/young-people/{sam}/notes", data={"body": "  "}, headers=HTMX)
    assert refused.status_code == 422 and "Please write the note." in refused.text

    async with service.rt.db() as session:
        raw = (await session.execute(text("SELECT body FROM notes"))).scalar_one()
        assert "placement" not in raw  # encrypted at rest
        assert (await session.scalar(select(Note.body))) == WORDS
        # A note is never a message: nothing was queued for Sam.
        assert (await session.scalars(select(Message))).all() == []
        actions = [(e.action, e.target) for e in await session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    note_id = (await notes_ids(service))[0]
    assert ("write_note", f"note:{note_id}") in actions
    assert actions.count(("view_notes", f"young_person:{sam}")) >= 2
    assert all(WORDS not in str(a) for a in actions)


async def notes_ids(service: Service) -> list[int]:
    async with service.rt.db() as session:
        return list(await session.scalars(select(Note.id)))


async def test_only_the_young_persons_team_can_read_or_write_notes(service: Service) -> None:
    sam, console = await jo_and_sam(service)
    await console.post(f"/young-people/{sam}/notes", data={"body": WORDS})
    await service.staff("ali", "Ali")
    await service.staff("priya", "Priya", StaffRole.MANAGER)
    for username in ("ali", "priya"):
        other = await service.login(username)
        looked = await other.get(f"/young-people/{sam}/notes/panel")
        assert looked.status_code == 404 and WORDS not in looked.text, username
        wrote = await other.post(f"/young-people/{sam}/notes", data={"body": "not mine to write"})
        assert wrote.status_code == 404, username
    assert len(await notes_ids(service)) == 1
