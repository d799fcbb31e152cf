"""The team around a young person: the conversation panel, the team page, adding staff, handover."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from bot.events import Event
from bot.services.leave import active_leave, back_at
from bot.services.message import staff_names
from bot.services.team import (
    TeamError,
    current_team,
    do_add_team_member,
    do_hand_over,
    do_remove_team_member,
    do_tell_handover,
    handovers,
    may_manage,
)
from bot.services.young_person import audience, may_view
from console.deps import CsrfChecked, CurrentStaff, RuntimeDep, SessionDep
from console.routes.young_people import load_young_person
from models import StaffMember, StaffRole, TeamMember, YoungPerson

router = APIRouter()
log = logging.getLogger(__name__)
MANAGERS = (StaffRole.MANAGER, StaffRole.ADMIN)


async def load_for_team(session: SessionDep, staff: CurrentStaff, young_person_id: int) -> YoungPerson:
    """Load a young person whose team the staff member may see: their own people, or any for a manager."""
    if staff.role in MANAGERS and staff.active:
        # Managers organise teams and handovers; they still read no messages unless on the team.
        young_person = await session.get(YoungPerson, young_person_id)
        if young_person is None:
            raise HTTPException(status_code=404, detail="No young person with that number.")
        return young_person
    return await load_young_person(session, staff, young_person_id)


def _require_manage(staff: StaffMember, young_person: YoungPerson) -> None:
    if not may_manage(staff, young_person):
        raise HTTPException(status_code=403, detail="Only the key worker or a manager can change the team.")


async def _context(rt: RuntimeDep, session: SessionDep, staff: StaffMember, young_person: YoungPerson) -> dict[str, Any]:
    tz = rt.settings.tz
    worker = await session.get(StaffMember, young_person.key_worker_id)
    assert worker is not None
    leave = await active_leave(session, worker.id)
    team = await current_team(session, young_person.id)
    history = await handovers(session, young_person.id)
    ids = {h.from_staff_id for h in history} | {h.to_staff_id for h in history} | {h.by_staff_id for h in history}
    names = await staff_names(session, ids | ({leave.cover_id} if leave else set()))
    active = list(
        await session.scalars(select(StaffMember).where(StaffMember.active.is_(True)).order_by(StaffMember.display_name))
    )
    on_team = {member.staff_id for member, _ in team}
    return {
        "young_person": young_person,
        "worker": worker,
        "leave": leave,
        "cover_name": names.get(leave.cover_id, "") if leave else "",
        "back": back_at(leave, worker, tz) if leave else None,
        "team": team,
        "handovers": history,
        "names": names,
        "may_manage": may_manage(staff, young_person),
        "may_read": may_view(staff, young_person),
        "candidates": [s for s in active if s.id != worker.id and s.id not in on_team],
        "key_workers": [s for s in active if s.role == StaffRole.KEY_WORKER and s.id != worker.id],
        "error": None,
        "form": {},
    }


def _page(request: Request, context: dict[str, Any], status_code: int = 200) -> Response:
    return request.app.state.templates.TemplateResponse(request, "team/page.html", context, status_code=status_code)


@router.get("/young-people/{young_person_id}/team/panel", response_class=HTMLResponse)
async def read_team_panel(
    request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, young_person_id: int
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    context = await _context(rt, session, staff, young_person)
    return request.app.state.templates.TemplateResponse(request, "team/_panel.html", context)


@router.get("/young-people/{young_person_id}/team", response_class=HTMLResponse)
async def read_team(
    request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, young_person_id: int
) -> Response:
    young_person = await load_for_team(session, staff, young_person_id)
    return _page(request, await _context(rt, session, staff, young_person))


@router.post("/young-people/{young_person_id}/team", dependencies=[CsrfChecked])
async def create_team_member(
    request: Request,
    rt: RuntimeDep,
    session: SessionDep,
    staff: CurrentStaff,
    young_person_id: int,
    staff_id: Annotated[int | None, Form()] = None,
    role: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    young_person = await load_for_team(session, staff, young_person_id)
    _require_manage(staff, young_person)
    member = await session.get(StaffMember, staff_id) if staff_id else None
    try:
        if member is None:
            raise TeamError("Please choose who to add.")
        await do_add_team_member(session, rt.now(), young_person, member, role=role, added_by=staff)
    except TeamError as exc:
        context = await _context(rt, session, staff, young_person)
        context.update(error=str(exc), form={"staff_id": staff_id, "role": role})
        return _page(request, context, status_code=400)
    await session.commit()
    log.info("staff %s added staff %s to the team of young person %s", staff.id, member.id, young_person.id)
    rt.events.publish(Event("caseload", young_person.id, audience(young_person)))
    return RedirectResponse(f"/young-people/{young_person.id}/team", status_code=303)


@router.post("/young-people/{young_person_id}/team/remove", dependencies=[CsrfChecked])
async def delete_team_member(
    rt: RuntimeDep,
    session: SessionDep,
    staff: CurrentStaff,
    young_person_id: int,
    member_id: Annotated[int | None, Form()] = None,
) -> Response:
    young_person = await load_for_team(session, staff, young_person_id)
    _require_manage(staff, young_person)
    member = await session.get(TeamMember, member_id) if member_id else None
    if member is None or member.young_person_id != young_person.id or member.removed_at is not None:
        raise HTTPException(status_code=404, detail="They are not on this team.")
    await do_remove_team_member(session, rt.now(), young_person, member, removed_by=staff)
    await session.commit()
    log.info("staff %s removed staff %s from the team of young person %s", staff.id, member.staff_id, young_person.id)
    rt.events.publish(Event("caseload", young_person.id, audience(young_person) | {f"staff:{member.staff_id}"}))
    return RedirectResponse(f"/young-people/{young_person.id}/team", status_code=303)


@router.post("/young-people/{young_person_id}/handover", dependencies=[CsrfChecked])
async def create_handover(
    request: Request,
    rt: RuntimeDep,
    session: SessionDep,
    staff: CurrentStaff,
    young_person_id: int,
    to_staff_id: Annotated[int | None, Form()] = None,
    note: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    young_person = await load_for_team(session, staff, young_person_id)
    if not may_manage(staff, young_person):
        raise HTTPException(status_code=403, detail="Only the key worker or a manager can hand over.")
    old_worker = await session.get(StaffMember, young_person.key_worker_id)
    new_worker = await session.get(StaffMember, to_staff_id) if to_staff_id else None
    assert old_worker is not None
    before = audience(young_person)
    now = rt.now()
    try:
        if new_worker is None:
            raise TeamError("Please choose the new key worker.")
        await do_hand_over(session, now, young_person, new_worker, by=staff, note=note)
        told = await do_tell_handover(
            session, now, rt.content, young_person, old_worker=old_worker, new_worker=new_worker
        )
    except TeamError as exc:
        context = await _context(rt, session, staff, young_person)
        context.update(error=str(exc), form={"to_staff_id": to_staff_id, "note": note})
        return _page(request, context, status_code=400)
    await session.commit()
    log.info(
        "staff %s handed young person %s over from staff %s to staff %s",
        staff.id, young_person.id, old_worker.id, new_worker.id,
    )
    everyone = before | audience(young_person)
    rt.events.publish(Event("caseload", young_person.id, everyone))
    if told is not None:
        rt.events.publish(Event("message", young_person.id, audience(young_person), {"message_id": told.id}))
        rt.outbox.kick([told.id])
    # A key worker who handed over no longer sees this young person: back to their caseload.
    still_sees = staff.role in MANAGERS or may_view(staff, young_person)
    return RedirectResponse(f"/young-people/{young_person.id}/team" if still_sees else "/young-people", status_code=303)
