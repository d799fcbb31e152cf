"""Missing from care in the console: mark a young person missing, see contact, end the episode."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from bot.events import Event
from bot.services.missing import MissingError, do_end_missing, do_mark_missing, open_episode
from bot.services.young_person import audience
from console.deps import CsrfChecked, CurrentStaff, RuntimeDep, SessionDep
from console.routes.young_people import load_young_person
from models import MissingEpisode

router = APIRouter(prefix="/young-people/{young_person_id}/missing")


@router.get("/panel", response_class=HTMLResponse)
async def read_missing_panel(request: Request, session: SessionDep, staff: CurrentStaff, young_person_id: int) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    episodes = list(
        await session.scalars(
            select(MissingEpisode)
            .where(MissingEpisode.young_person_id == young_person.id)
            .order_by(MissingEpisode.started_at.desc())
            .limit(5)
        )
    )
    current = next((e for e in episodes if e.ended_at is None), None)
    return request.app.state.templates.TemplateResponse(
        request, "missing/_panel.html", {"young_person": young_person, "episodes": episodes, "current": current}
    )


@router.post("", dependencies=[CsrfChecked])
async def create_missing_episode(
    rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, young_person_id: int,
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    try:
        await do_mark_missing(session, rt.now(), young_person, staff.id, note)
    except MissingError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    await session.commit()
    rt.events.publish(Event("caseload", young_person.id, audience(young_person)))
    if rt.scheduler is not None:
        # The first "are you safe?" message goes now, not at the next tick.
        await rt.scheduler.tick()
    return RedirectResponse(f"/young-people/{young_person.id}", status_code=303)


@router.post("/end", dependencies=[CsrfChecked])
async def update_missing_episode(
    rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, young_person_id: int,
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    episode = await open_episode(session, young_person.id)
    if episode is None:
        raise HTTPException(status_code=409, detail=f"{young_person.preferred_name} is not marked missing.")
    await do_end_missing(session, rt.now(), episode, staff.id, note)
    await session.commit()
    rt.events.publish(Event("caseload", young_person.id, audience(young_person)))
    return RedirectResponse(f"/young-people/{young_person.id}", status_code=303)
