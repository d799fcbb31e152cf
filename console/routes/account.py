"""A staff member's own account: their password and their two-step sign-in, each asking for the password again."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.services.audit import do_audit
from bot.services.staff import StaffError, do_begin_second_factor_change, do_change_password, do_finish_second_factor_change
from console.deps import CsrfChecked, CurrentStaff, LoginDep, RuntimeDep, SessionDep
from console.routes.auth import client_ip, enrolment_context

router = APIRouter()


def _page(request: Request, name: str, context: dict[str, object], status_code: int = 200) -> Response:
    return request.app.state.templates.TemplateResponse(request, name, context, status_code=status_code)


@router.get("/account", response_class=HTMLResponse)
async def read_account(request: Request, staff: CurrentStaff) -> Response:
    return _page(request, "account/index.html", {"done": request.query_params.get("done")})


@router.get("/account/password", response_class=HTMLResponse)
async def read_password(request: Request, staff: CurrentStaff) -> Response:
    return _page(request, "password.html", {"error": None})


@router.post("/account/password", dependencies=[CsrfChecked])
async def update_password(
    request: Request,
    rt: RuntimeDep,
    session: SessionDep,
    login: LoginDep,
    current: Annotated[str, Form(max_length=1000)] = "",
    new: Annotated[str, Form(max_length=1000)] = "",
    confirm: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    staff_session, staff = login
    now = rt.now()
    try:
        if new != confirm:
            raise StaffError("The two new passwords are not the same.")
        await do_change_password(session, now, staff, current, new, keep=staff_session)
    except StaffError as exc:
        await session.commit()  # a wrong current password counts towards the lockout
        return _page(request, "password.html", {"error": str(exc)}, status_code=400)
    do_audit(session, now, "password_changed", actor_id=staff.id, ip=client_ip(request))
    await session.commit()
    return RedirectResponse("/account?done=password", status_code=303)


@router.get("/account/2fa", response_class=HTMLResponse)
async def read_second_factor_change(request: Request, staff: CurrentStaff) -> Response:
    return _page(request, "account/second_factor.html", {"error": None, "step": "password"})


@router.post("/account/2fa", dependencies=[CsrfChecked])
async def create_second_factor_change(
    request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff,
    password: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    try:
        secret = do_begin_second_factor_change(staff, password, rt.now())
    except StaffError as exc:
        await session.commit()  # a wrong password counts towards the lockout
        return _page(request, "account/second_factor.html", {"error": str(exc), "step": "password"}, status_code=400)
    await session.commit()
    return _page(request, "account/second_factor.html", {"error": None, "step": "code", **enrolment_context(secret, staff.username)})


@router.post("/account/2fa/confirm", dependencies=[CsrfChecked])
async def update_second_factor(
    request: Request, rt: RuntimeDep, session: SessionDep, login: LoginDep,
    code: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    staff_session, staff = login
    now = rt.now()
    try:
        await do_finish_second_factor_change(session, now, staff, code, keep=staff_session)
    except StaffError as exc:
        context: dict[str, object] = {"error": str(exc), "step": "password"}
        if staff.totp_pending_secret:
            context.update(step="code", **enrolment_context(staff.totp_pending_secret, staff.username))
        return _page(request, "account/second_factor.html", context, status_code=400)
    do_audit(session, now, "second_factor_changed", actor_id=staff.id, ip=client_ip(request))
    await session.commit()
    return RedirectResponse("/account?done=2fa", status_code=303)
