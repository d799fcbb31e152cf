"""Private notes on a young person's page: their team reads and writes them; the young person never sees them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.services.message import staff_names
from bot.services.note import MAX_NOTE_LENGTH, NoteError, do_read_notes, do_write_note
from console.deps import CsrfChecked, CurrentStaff, RuntimeDep, SessionDep
from console.routes.young_people import load_young_person
from models import StaffMember, YoungPerson

router = APIRouter(prefix="/young-people/{young_person_id}/notes")


async def _panel(request: Request, rt: RuntimeDep, session: SessionDep, staff: StaffMember, young_person: YoungPerson,
                 *, error: str | None = None, draft: str = "", saved: bool = False, status: int = 200) -> Response:
    found = await do_read_notes(session, rt.now(), young_person, staff)
    names = await staff_names(session, {n.staff_id for n in found if n.staff_id})
    await session.commit()
    return request.app.state.templates.TemplateResponse(
        request, "notes/_panel.html",
        {"young_person": young_person, "notes": found, "names": names, "error": error, "draft": draft, "saved": saved},
        status_code=status,
    )


@router.get("/panel", response_class=HTMLResponse)
async def read_notes_panel(request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, young_person_id: int) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    return await _panel(request, rt, session, staff, young_person)


@router.post("", dependencies=[CsrfChecked])
async def create_note(
    request: Request,
    rt: RuntimeDep,
    session: SessionDep,
    staff: CurrentStaff,
    young_person_id: int,
    body: Annotated[str, Form(max_length=MAX_NOTE_LENGTH * 2)] = "",
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    htmx = request.headers.get("hx-request") == "true"
    try:
        await do_write_note(session, rt.now(), young_person, staff, body)
    except NoteError as exc:
        # Keep what they wrote: the panel comes back with the words and the reason.
        return await _panel(request, rt, session, staff, young_person, error=str(exc), draft=body, status=422)
    if not htmx:
        await session.commit()
        return RedirectResponse(f"/young-people/{young_person.id}#notes", status_code=303)
    return await _panel(request, rt, session, staff, young_person, saved=True)
