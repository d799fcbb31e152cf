"""Signing in (password, then a TOTP code), signing out, and changing one's password."""

from __future__ import annotations

import logging
from typing import Annotated

import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.services.audit import do_audit
from bot.services.staff import (
    StaffError,
    authenticate,
    do_begin_totp_enrolment,
    do_change_password,
    do_check_second_factor,
    do_end_session,
    do_start_session,
    provisioning_uri,
)
from console.deps import COOKIE, CsrfChecked, CurrentStaff, LoginDep, PendingLoginDep, RuntimeDep, SessionDep
from console.security import same_token

router = APIRouter()
log = logging.getLogger(__name__)
NEXT_COOKIE = "kw_next"


def _safe_next(next_url: str | None) -> str:
    # Only same-site paths: never let the login form redirect to another site.
    if next_url and next_url.startswith("/") and not next_url.startswith("//"):
        return next_url
    return "/"


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _set_cookie(response: Response, rt: RuntimeDep, token: str) -> None:
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="lax",
        secure=rt.settings.public_url.startswith("https://"), max_age=12 * 3600,
    )


def _locked_message(rt: RuntimeDep, until) -> str:  # type: ignore[no-untyped-def]
    return f"Too many tries. For your safety this account is locked until {until.astimezone(rt.settings.tz):%H:%M}."


@router.get("/login", response_class=HTMLResponse)
async def read_login(request: Request, next: str = "/") -> Response:
    return request.app.state.templates.TemplateResponse(
        request, "login.html", {"next": _safe_next(next), "error": None}
    )


@router.post("/login")
async def create_login(
    request: Request,
    rt: RuntimeDep,
    session: SessionDep,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    now = rt.now()
    staff, locked_until = await authenticate(session, username, password, now)
    if staff is None:
        do_audit(session, now, "login_failed", ip=_ip(request), target=f"username:{len(username)} chars", locked=bool(locked_until))
        await session.commit()
        error = _locked_message(rt, locked_until) if locked_until else "That username and password do not match."
        return request.app.state.templates.TemplateResponse(
            request, "login.html",
            {"next": _safe_next(next), "error": error, "username": username},
            status_code=401,
        )
    token = await do_start_session(session, now, staff, ip=_ip(request))
    do_audit(session, now, "password_ok", actor_id=staff.id, ip=_ip(request))
    await session.commit()
    response = RedirectResponse("/login/2fa", status_code=303)
    _set_cookie(response, rt, token)
    response.set_cookie(NEXT_COOKIE, _safe_next(next), httponly=True, samesite="lax", max_age=600)
    return response


@router.get("/login/2fa", response_class=HTMLResponse)
async def read_second_factor(request: Request, session: SessionDep, login: PendingLoginDep) -> Response:
    staff_session, staff = login
    if staff_session.mfa_at is not None:
        return RedirectResponse("/", status_code=303)
    context: dict[str, object] = {"error": None, "enrol": staff.totp_secret is None}
    if staff.totp_secret is None:
        secret = staff.totp_pending_secret or do_begin_totp_enrolment(staff)
        await session.commit()
        uri = provisioning_uri(secret, staff.username)
        context.update(secret=secret, qr_svg=segno.make(uri, error="m").svg_inline(scale=4, title="QR code to add Keyworker to your authenticator app"))
    return request.app.state.templates.TemplateResponse(request, "second_factor.html", context)


@router.post("/login/2fa")
async def create_second_factor(
    request: Request, rt: RuntimeDep, session: SessionDep, login: PendingLoginDep,
    code: Annotated[str, Form(max_length=20)] = "", csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    staff_session, staff = login
    if not same_token(staff_session.csrf_token, csrf_token):
        return RedirectResponse("/login", status_code=303)
    now = rt.now()
    enrolling = staff.totp_secret is None
    token, locked_until = await do_check_second_factor(session, now, staff_session, staff, code)
    if token is None:
        do_audit(session, now, "second_factor_failed", actor_id=staff.id, ip=_ip(request), locked=bool(locked_until))
        await session.commit()
        context: dict[str, object] = {
            "error": _locked_message(rt, locked_until) if locked_until else "That code is not right. Codes change every 30 seconds: try the newest one.",
            "enrol": enrolling,
        }
        if enrolling and staff.totp_pending_secret:
            uri = provisioning_uri(staff.totp_pending_secret, staff.username)
            context.update(secret=staff.totp_pending_secret, qr_svg=segno.make(uri, error="m").svg_inline(scale=4, title="QR code to add Keyworker to your authenticator app"))
        return request.app.state.templates.TemplateResponse(request, "second_factor.html", context, status_code=401)
    do_audit(session, now, "login", actor_id=staff.id, ip=_ip(request), enrolled_2fa=enrolling)
    await session.commit()
    log.info("staff %s signed in", staff.id)
    response = RedirectResponse(_safe_next(request.cookies.get(NEXT_COOKIE)), status_code=303)
    _set_cookie(response, rt, token)
    response.delete_cookie(NEXT_COOKIE)
    return response


@router.post("/logout", dependencies=[CsrfChecked])
async def create_logout(request: Request, rt: RuntimeDep, session: SessionDep, login: LoginDep) -> Response:
    await do_end_session(session, rt.now(), request.cookies.get(COOKIE, ""))
    do_audit(session, rt.now(), "logout", actor_id=login[1].id, ip=_ip(request))
    await session.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/account/password", response_class=HTMLResponse)
async def read_password(request: Request, staff: CurrentStaff) -> Response:
    return request.app.state.templates.TemplateResponse(request, "password.html", {"error": None})


@router.post("/account/password", dependencies=[CsrfChecked])
async def update_password(
    request: Request,
    rt: RuntimeDep,
    session: SessionDep,
    staff: CurrentStaff,
    current: Annotated[str, Form(max_length=1000)] = "",
    new: Annotated[str, Form(max_length=1000)] = "",
    confirm: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    try:
        if new != confirm:
            raise StaffError("The two new passwords are not the same.")
        await do_change_password(staff, current, new)
    except StaffError as exc:
        return request.app.state.templates.TemplateResponse(
            request, "password.html", {"error": str(exc)}, status_code=400
        )
    do_audit(session, rt.now(), "password_changed", actor_id=staff.id, ip=_ip(request))
    await session.commit()
    return RedirectResponse("/", status_code=303)
