"""The timeline panel on a young person's page: the newest entries of their chronology, newest first."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from bot.services.chronology import build_chronology
from console.deps import CurrentStaff, RuntimeDep, SessionDep
from console.routes.young_people import load_young_person

router = APIRouter(prefix="/young-people/{young_person_id}/timeline")
SHOWN = 25


@router.get("/panel", response_class=HTMLResponse)
async def read_timeline_panel(request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, young_person_id: int) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    chronology = await build_chronology(session, rt.now(), young_person, rt.settings.tz)
    entries = list(reversed(chronology.entries[-SHOWN:]))
    return request.app.state.templates.TemplateResponse(
        request, "timeline/_panel.html",
        {"young_person": young_person, "entries": entries, "total": len(chronology.entries)},
    )
