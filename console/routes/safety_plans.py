"""A young person's safety plan, written with their worker in the console."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.services.safety_plan import do_save_safety_plan, read_safety_plan
from console.deps import CsrfChecked, CurrentStaff, RuntimeDep, SessionDep
from console.routes.young_people import load_young_person

router = APIRouter(prefix="/young-people/{young_person_id}/safety-plan")


@router.get("/panel", response_class=HTMLResponse)
async def read_safety_plan_panel(request: Request, session: SessionDep, staff: CurrentStaff, young_person_id: int) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    plan = await read_safety_plan(session, young_person.id)
    return request.app.state.templates.TemplateResponse(
        request, "safety_plans/_panel.html", {"young_person": young_person, "plan": plan}
    )


@router.post("", dependencies=[CsrfChecked])
async def update_safety_plan(
    request: Request,
    rt: RuntimeDep,
    session: SessionDep,
    staff: CurrentStaff,
    young_person_id: int,
    warning_signs: Annotated[str, Form(max_length=2000)] = "",
    things_that_help: Annotated[str, Form(max_length=2000)] = "",
    people_and_places: Annotated[str, Form(max_length=2000)] = "",
    who_to_call: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    plan = await do_save_safety_plan(
        session, rt.now(), young_person.id, staff.id,
        warning_signs=warning_signs, things_that_help=things_that_help,
        people_and_places=people_and_places, who_to_call=who_to_call,
    )
    await session.commit()
    if request.headers.get("hx-request") == "true":
        return request.app.state.templates.TemplateResponse(
            request, "safety_plans/_panel.html", {"young_person": young_person, "plan": plan, "saved": True}
        )
    return RedirectResponse(f"/young-people/{young_person.id}", status_code=303)
