"""Administration of staff accounts: add one, change a role, disable an account, reset two-step sign-in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from bot.services.audit import do_audit
from bot.services.staff import StaffError, do_change_role, do_create_staff, do_disable_staff, do_reset_second_factor
from console.deps import CsrfChecked, CurrentStaff, RuntimeDep, SessionDep, require_role
from console.routes.auth import client_ip
from models import StaffMember, StaffRole

router = APIRouter(prefix="/admin/staff", dependencies=[require_role(StaffRole.ADMIN)])
ROLE_NAMES = {StaffRole.KEY_WORKER: "Key worker", StaffRole.MANAGER: "Manager", StaffRole.ADMIN: "Admin"}


async def _page(request: Request, session: SessionDep, status_code: int = 200, **context: object) -> Response:
    members = list(await session.scalars(select(StaffMember).order_by(StaffMember.active.desc(), StaffMember.display_name)))
    values = {"members": members, "roles": ROLE_NAMES, "error": None, "added": None, "form": {}, "done": request.query_params.get("done"), **context}
    return request.app.state.templates.TemplateResponse(request, "admin/staff.html", values, status_code=status_code)


async def _member(session: SessionDep, staff_id: int) -> StaffMember:
    member = await session.get(StaffMember, staff_id)
    if member is None:
        raise HTTPException(status_code=404, detail="There is no such staff member.")
    return member


@router.get("", response_class=HTMLResponse)
async def read_staff_accounts(request: Request, session: SessionDep) -> Response:
    return await _page(request, session)


@router.post("", dependencies=[CsrfChecked])
async def create_staff_account(
    request: Request, rt: RuntimeDep, session: SessionDep, admin: CurrentStaff,
    username: Annotated[str, Form(max_length=64)] = "",
    display_name: Annotated[str, Form(max_length=120)] = "",
    role: Annotated[str, Form(max_length=20)] = StaffRole.KEY_WORKER,
) -> Response:
    now = rt.now()
    try:
        if role not in ROLE_NAMES:
            raise StaffError("Choose a role: key worker, manager or admin.")
        member, password = await do_create_staff(session, now, username=username, display_name=display_name, role=StaffRole(role))
    except StaffError as exc:
        form = {"username": username, "display_name": display_name, "role": role}
        return await _page(request, session, status_code=400, error=str(exc), form=form)
    do_audit(session, now, "staff_added", actor_id=admin.id, target=f"staff:{member.id}", role=member.role.value, ip=client_ip(request))
    await session.commit()
    # The one-time password is shown this once, never stored in plain text.
    return await _page(request, session, added={"member": member, "password": password})


@router.post("/{staff_id}/role", dependencies=[CsrfChecked])
async def update_staff_role(
    request: Request, rt: RuntimeDep, session: SessionDep, admin: CurrentStaff, staff_id: int,
    role: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    member = await _member(session, staff_id)
    try:
        if role not in ROLE_NAMES:
            raise StaffError("Choose a role: key worker, manager or admin.")
        before = member.role
        await do_change_role(session, rt.now(), member, StaffRole(role), by=admin)
    except StaffError as exc:
        return await _page(request, session, status_code=400, error=str(exc))
    do_audit(session, rt.now(), "role_changed", actor_id=admin.id, target=f"staff:{member.id}", before=str(before), after=role, ip=client_ip(request))
    await session.commit()
    return RedirectResponse(f"/admin/staff?done=role#staff-{member.id}", status_code=303)


@router.post("/{staff_id}/disable", dependencies=[CsrfChecked])
async def update_staff_disabled(request: Request, rt: RuntimeDep, session: SessionDep, admin: CurrentStaff, staff_id: int) -> Response:
    member = await _member(session, staff_id)
    if member.id == admin.id:
        return await _page(request, session, status_code=400, error="You cannot disable your own account: ask another admin.")
    ended = await do_disable_staff(session, rt.now(), member)
    do_audit(session, rt.now(), "staff_disable", actor_id=admin.id, target=f"staff:{member.id}", sessions_ended=ended, ip=client_ip(request))
    await session.commit()
    return RedirectResponse(f"/admin/staff?done=disabled#staff-{member.id}", status_code=303)


@router.post("/{staff_id}/reset-2fa", dependencies=[CsrfChecked])
async def update_staff_second_factor(request: Request, rt: RuntimeDep, session: SessionDep, admin: CurrentStaff, staff_id: int) -> Response:
    member = await _member(session, staff_id)
    await do_reset_second_factor(session, rt.now(), member)
    do_audit(session, rt.now(), "staff_reset_2fa", actor_id=admin.id, target=f"staff:{member.id}", ip=client_ip(request))
    await session.commit()
    return RedirectResponse(f"/admin/staff?done=reset#staff-{member.id}", status_code=303)
