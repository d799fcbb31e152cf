"""Data rights in the console: whether a young person sent /stop, and recording when they left the service."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.events import Event
from bot.services.hours import at_local
from bot.services.retention import do_close_case, do_reopen_case, erase_on
from bot.services.young_person import audience
from console.deps import CsrfChecked, CurrentStaff, RuntimeDep, SessionDep
from console.routes.young_people import load_young_person

router = APIRouter(prefix="/young-people/{young_person_id}/data")


@router.get("/panel", response_class=HTMLResponse)
async def read_data_panel(
    request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, young_person_id: int
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    settings = rt.settings
    return request.app.state.templates.TemplateResponse(
        request,
        "data_rights/_panel.html",
        {
            "young_person": young_person,
            "erase_on": erase_on(young_person, settings.retention_days_after_leaving),
            "erase_mode": settings.retention_erase,
            "retention_days": settings.retention_days_after_leaving,
            "today": rt.now().astimezone(settings.tz).date().isoformat(),
        },
    )


@router.post("/left", dependencies=[CsrfChecked])
async def update_left_service(
    rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, young_person_id: int,
    left_on: Annotated[date, Form()],
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    now, tz = rt.now(), rt.settings.tz
    if young_person.erased_at is not None:
        raise HTTPException(status_code=409, detail="This record has been erased.")
    if left_on > now.astimezone(tz).date():
        raise HTTPException(status_code=400, detail="The leaving date cannot be in the future.")
    await do_close_case(session, now, young_person, at_local(left_on, "00:00", tz), tz, staff=staff)
    await session.commit()
    rt.events.publish(Event("caseload", young_person.id, audience(young_person)))
    return RedirectResponse(f"/young-people/{young_person.id}", status_code=303)


@router.post("/left/undo", dependencies=[CsrfChecked])
async def delete_left_service(rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, young_person_id: int) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    if young_person.erased_at is not None:
        raise HTTPException(status_code=409, detail="This record has been erased.")
    await do_reopen_case(session, rt.now(), young_person, staff=staff)
    await session.commit()
    rt.events.publish(Event("caseload", young_person.id, audience(young_person)))
    return RedirectResponse(f"/young-people/{young_person.id}", status_code=303)
