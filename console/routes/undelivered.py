"""Messages that could not be processed: their worker reads the words and marks each one handled.

A sender nobody knows (an unlinked chat) has no worker: administrators read and handle those.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from bot.events import Event
from bot.services.audit import do_audit
from bot.services.undelivered import Shown, do_resolve_undelivered, open_count, shown_for, words_of
from bot.services.young_person import audience
from console.deps import CsrfChecked, CurrentStaff, RuntimeDep, SessionDep, require_role
from console.routes.young_people import load_young_person
from models import StaffRole, UndeliveredUpdate

router = APIRouter()
ADMIN = [require_role(StaffRole.ADMIN)]


@router.get("/young-people/{young_person_id}/undelivered/panel", response_class=HTMLResponse)
async def read_undelivered_panel(
    request: Request, session: SessionDep, staff: CurrentStaff, young_person_id: int
) -> Response:
    """Show the young person's messages that could not be processed (nothing when there are none)."""
    young_person = await load_young_person(session, staff, young_person_id)
    kept = await shown_for(session, young_person.id)
    return request.app.state.templates.TemplateResponse(
        request, "undelivered/_panel.html", {"young_person": young_person, "kept": kept}
    )


@router.post("/young-people/{young_person_id}/undelivered/handled", dependencies=[CsrfChecked])
async def update_undelivered(
    request: Request,
    rt: RuntimeDep,
    session: SessionDep,
    staff: CurrentStaff,
    young_person_id: int,
    undelivered_id: Annotated[int, Form()],
) -> Response:
    """Mark one of them handled: it leaves the page, the caseload and /healthz."""
    young_person = await load_young_person(session, staff, young_person_id)
    kept = await session.get(UndeliveredUpdate, undelivered_id)
    if kept is None or kept.young_person_id != young_person.id:
        raise HTTPException(status_code=404, detail="No such message for this young person.")
    changed = await do_resolve_undelivered(session, rt.now(), kept, staff)
    await session.commit()
    if changed:
        rt.events.publish(Event("caseload", young_person.id, audience(young_person), {}))
    if request.headers.get("hx-request") != "true":
        return RedirectResponse(f"/young-people/{young_person.id}", status_code=303)
    return request.app.state.templates.TemplateResponse(
        request, "undelivered/_panel.html", {"young_person": young_person, "kept": await shown_for(session, young_person.id)}
    )


@router.get("/admin/undelivered", response_class=HTMLResponse, dependencies=ADMIN)
async def read_undelivered_admin(request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff) -> Response:
    """List what unlinked chats sent that could not be processed, with the words (every look audited)."""
    rows = await session.scalars(
        select(UndeliveredUpdate)
        .where(UndeliveredUpdate.young_person_id.is_(None), UndeliveredUpdate.resolved_at.is_(None))
        .order_by(UndeliveredUpdate.kept_at.desc())
        .limit(100)
    )
    kept = [Shown(row, *words_of(json.loads(row.raw))) for row in rows]
    others = await open_count(session) - len(kept)
    if kept:
        do_audit(session, rt.now(), "view_undelivered", actor_id=staff.id, target=",".join(f"undelivered:{k.update.id}" for k in kept)[:200])
        await session.commit()
    return request.app.state.templates.TemplateResponse(
        request, "undelivered/admin.html", {"kept": kept, "others": others}
    )


@router.post("/admin/undelivered/handled", dependencies=[*ADMIN, CsrfChecked])
async def update_undelivered_admin(
    rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, undelivered_id: Annotated[int, Form()]
) -> Response:
    """Mark one from an unlinked chat handled."""
    kept = await session.get(UndeliveredUpdate, undelivered_id)
    if kept is None or kept.young_person_id is not None:
        raise HTTPException(status_code=404, detail="No such message from an unlinked chat.")
    await do_resolve_undelivered(session, rt.now(), kept, staff)
    await session.commit()
    return RedirectResponse("/admin/undelivered", status_code=303)
