"""Working hours and leave: a worker's own page, and every worker's for managers and admins."""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from bot.services import hours
from bot.services.leave import (
    LeaveError,
    active_leave,
    back_at,
    covering,
    do_add_leave,
    do_end_cover,
    do_set_working_hours,
    leave_changed,
    leaves_of,
    window,
)
from bot.services.message import staff_names
from bot.services.team import teams_of
from console.deps import CsrfChecked, CurrentStaff, RuntimeDep, SessionDep
from models import LeavePeriod, StaffMember, StaffRole, YoungPerson

router = APIRouter()
log = logging.getLogger(__name__)
MANAGERS = (StaffRole.MANAGER, StaffRole.ADMIN)
DAY_NAMES = dict(zip(hours.DAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")))


async def load_member(session: SessionDep, staff: CurrentStaff, staff_id: int) -> StaffMember:
    """Load a staff account the signed-in person may manage: their own, or anyone's for a manager."""
    member = await session.get(StaffMember, staff_id)
    if member is None or (member.id != staff.id and staff.role not in MANAGERS):
        raise HTTPException(status_code=404, detail="No staff member with that number for you.")
    return member


@router.get("/staff", response_class=HTMLResponse)
async def read_staff(request: Request, session: SessionDep, staff: CurrentStaff) -> Response:
    if staff.role not in MANAGERS:
        return RedirectResponse(f"/staff/{staff.id}", status_code=303)
    members = list(await session.scalars(select(StaffMember).order_by(StaffMember.active.desc(), StaffMember.display_name)))
    away = {
        leave.staff_id: leave
        for leave in await session.scalars(
            select(LeavePeriod).where(LeavePeriod.cover_started_at.is_not(None), LeavePeriod.cover_ended_at.is_(None))
        )
    }
    names = {m.id: m.display_name for m in members}
    return request.app.state.templates.TemplateResponse(
        request, "staff/list.html", {"members": members, "away": away, "names": names}
    )


async def _context(rt: RuntimeDep, session: SessionDep, staff: StaffMember, member: StaffMember) -> dict[str, Any]:
    tz = rt.settings.tz
    leaves = await leaves_of(session, member.id)
    names = await staff_names(session, {leave.cover_id for leave in leaves})
    cover_for = await covering(session, member.id)
    caseload = list(
        await session.scalars(
            select(YoungPerson).where(YoungPerson.key_worker_id == member.id).order_by(YoungPerson.preferred_name)
        )
    )
    others = await session.scalars(
        select(StaffMember)
        .where(StaffMember.active.is_(True), StaffMember.id != member.id)
        .order_by(StaffMember.display_name)
    )
    return {
        "member": member,
        "own": member.id == staff.id,
        "days": [(day, DAY_NAMES[day], member.working_hours.get(day) or ["", ""]) for day in hours.DAYS],
        "leaves": [(leave, names.get(leave.cover_id, ""), window(leave, tz), back_at(leave, member, tz)) for leave in leaves],
        "away_now": await active_leave(session, member.id),
        "covering": [(leave, worker, back_at(leave, worker, tz)) for leave, worker in cover_for],
        "teams": await teams_of(session, member.id),
        "caseload": caseload,
        "cover_choices": list(others),
        "today": rt.now().astimezone(tz).date().isoformat(),
        "error": None,
        "form": {},
    }


def _page(request: Request, context: dict[str, Any], status_code: int = 200) -> Response:
    return request.app.state.templates.TemplateResponse(request, "staff/page.html", context, status_code=status_code)


@router.get("/staff/{staff_id}", response_class=HTMLResponse)
async def read_staff_member(
    request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, staff_id: int
) -> Response:
    member = await load_member(session, staff, staff_id)
    return _page(request, await _context(rt, session, staff, member))


@router.post("/staff/{staff_id}/hours", dependencies=[CsrfChecked])
async def update_working_hours(request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, staff_id: int) -> Response:
    member = await load_member(session, staff, staff_id)
    form = await request.form()
    spans = {
        day: (str(form.get(f"{day}_start") or ""), str(form.get(f"{day}_end") or "")) for day in hours.DAYS
    }
    try:
        do_set_working_hours(member, spans)
    except LeaveError as exc:
        context = await _context(rt, session, staff, member)
        context["error"] = str(exc)
        return _page(request, context, status_code=400)
    await session.commit()
    log.info("staff %s changed the working hours of staff %s", staff.id, member.id)
    return RedirectResponse(f"/staff/{member.id}", status_code=303)


@router.post("/staff/{staff_id}/leave", dependencies=[CsrfChecked])
async def create_leave(
    request: Request,
    rt: RuntimeDep,
    session: SessionDep,
    staff: CurrentStaff,
    staff_id: int,
    starts_on: Annotated[str, Form(max_length=20)] = "",
    ends_on: Annotated[str, Form(max_length=20)] = "",
    cover_id: Annotated[int | None, Form()] = None,
) -> Response:
    member = await load_member(session, staff, staff_id)
    cover = await session.get(StaffMember, cover_id) if cover_id else None
    try:
        first, last = _date(starts_on, "first day away"), _date(ends_on, "last day away")
        if cover is None:
            raise LeaveError("Please choose who covers.")
        leave = await do_add_leave(
            session, rt.now(), rt.settings.tz, member, starts_on=first, ends_on=last, cover=cover, by=staff
        )
    except LeaveError as exc:
        context = await _context(rt, session, staff, member)
        context.update(error=str(exc), form={"starts_on": starts_on, "ends_on": ends_on, "cover_id": cover_id})
        return _page(request, context, status_code=400)
    await session.commit()
    if leave.cover_started_at is not None:
        rt.events.publish(leave_changed(leave))
    return RedirectResponse(f"/staff/{member.id}", status_code=303)


@router.post("/staff/{staff_id}/leave/end", dependencies=[CsrfChecked])
async def delete_leave(
    rt: RuntimeDep,
    session: SessionDep,
    staff: CurrentStaff,
    staff_id: int,
    leave_id: Annotated[int | None, Form()] = None,
) -> Response:
    member = await load_member(session, staff, staff_id)
    leave = await session.get(LeavePeriod, leave_id) if leave_id else None
    if leave is None or leave.staff_id != member.id:
        raise HTTPException(status_code=404, detail="No leave with that number for you.")
    try:
        await do_end_cover(session, rt.now(), leave, by=staff)
    except LeaveError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    await session.commit()
    rt.events.publish(leave_changed(leave))
    return RedirectResponse(f"/staff/{member.id}", status_code=303)


def _date(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise LeaveError(f"Please give the {what} as a date.") from None
