"""Placement moves on a young person's page: the list, and recording a move."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.events import Event
from bot.services.placement import PlacementError, do_record_move, moves_for, parse_moved_on
from bot.services.young_person import audience
from console.deps import CsrfChecked, CurrentStaff, RuntimeDep, SessionDep
from console.routes.young_people import load_young_person
from models import YoungPerson

router = APIRouter(prefix="/young-people/{young_person_id}/placement")
log = logging.getLogger(__name__)


async def _panel(
    request: Request, rt: RuntimeDep, session: SessionDep, young_person: YoungPerson, *, status: int = 200, **extra: object
) -> Response:
    context = {
        "young_person": young_person,
        "moves": await moves_for(session, young_person.id),
        "today": rt.now().astimezone(rt.settings.tz).date().isoformat(),
        "error": None,
        "notice": None,
        "form": {},
        **extra,
    }
    return request.app.state.templates.TemplateResponse(request, "placement/_panel.html", context, status_code=status)


@router.get("/panel", response_class=HTMLResponse)
async def read_placement_panel(
    request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, young_person_id: int
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    return await _panel(request, rt, session, young_person)


@router.post("/moves", dependencies=[CsrfChecked])
async def create_placement_move(
    request: Request,
    rt: RuntimeDep,
    session: SessionDep,
    staff: CurrentStaff,
    young_person_id: int,
    moved_on: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    htmx = request.headers.get("hx-request") == "true"
    tz = rt.settings.tz
    try:
        day = parse_moved_on(moved_on, rt.now(), tz)
        move = await do_record_move(session, rt.now(), young_person, moved_on=day, note=note, staff=staff, tz=tz)
    except PlacementError as exc:
        if not htmx:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        # The panel comes back with what they typed and the reason (htmx swaps 422 answers in).
        return await _panel(request, rt, session, young_person, status=422, error=str(exc), form={"moved_on": moved_on, "note": note})
    await session.commit()
    rt.events.publish(Event("caseload", young_person.id, audience(young_person)))
    log.info("staff %s recorded placement move %s for young person %s", staff.id, move.id, young_person.id)
    if not htmx:
        return RedirectResponse(f"/young-people/{young_person.id}", status_code=303)
    return await _panel(request, rt, session, young_person, notice="Move recorded.")
