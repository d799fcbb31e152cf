"""Signing in (password, then a TOTP code) and signing out."""

from __future__ import annotations

import logging
from typing import Annotated

import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.services.audit import do_audit
from bot.services.staff import (
    authenticate,
    do_begin_totp_enrolment,
    do_check_second_factor,
    do_end_session,
    do_start_session,
    provisioning_uri,
)
from console.deps import COOKIE, CsrfChecked, LoginDep, PendingLoginDep, RuntimeDep, SessionDep
from console.security import same_token

router = APIRouter()
log = logging.getLogger(__name__)
NEXT_COOKIE = "kw_next"


def _safe_next(next_url: str | None) -> str:
    # Only same-site paths: never let the login form redirect to another site.
    if next_url and next_url.startswith("/") and not next_url.startswith("//"):
        return next_url
    return "/"


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _set_cookie(response: Response, rt: RuntimeDep, token: str) -> None:
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="lax",
        secure=rt.settings.public_url.startswith("https://"), max_age=12 * 3600,
    )


def enrolment_context(secret: str, username: str) -> dict[str, object]:
    """The QR code and the typed key a staff member adds to their authenticator app."""
    uri = provisioning_uri(secret, username)
    qr = segno.make(uri, error="m").svg_inline(scale=4, title="QR code to add Keyworker to your authenticator app")
    return {"secret": secret, "qr_svg": qr}


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
        do_audit(session, now, "login_failed", ip=client_ip(request), target=f"username:{len(username)} chars", locked=bool(locked_until))
        await session.commit()
        error = _locked_message(rt, locked_until) if locked_until else "That username and password do not match."
        return request.app.state.templates.TemplateResponse(
            request, "login.html",
            {"next": _safe_next(next), "error": error, "username": username},
            status_code=401,
        )
    token = await do_start_session(session, now, staff, ip=client_ip(request))
    do_audit(session, now, "password_ok", actor_id=staff.id, ip=client_ip(request))
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
        context.update(enrolment_context(secret, staff.username))
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
        do_audit(session, now, "second_factor_failed", actor_id=staff.id, ip=client_ip(request), locked=bool(locked_until))
        await session.commit()
        context: dict[str, object] = {
            "error": _locked_message(rt, locked_until) if locked_until else "That code is not right. Codes change every 30 seconds: try the newest one.",
            "enrol": enrolling,
        }
        if enrolling and staff.totp_pending_secret:
            context.update(enrolment_context(staff.totp_pending_secret, staff.username))
        return request.app.state.templates.TemplateResponse(request, "second_factor.html", context, status_code=401)
    do_audit(session, now, "login", actor_id=staff.id, ip=client_ip(request), enrolled_2fa=enrolling)
    await session.commit()
    log.info("staff %s signed in", staff.id)
    response = RedirectResponse(_safe_next(request.cookies.get(NEXT_COOKIE)), status_code=303)
    _set_cookie(response, rt, token)
    response.delete_cookie(NEXT_COOKIE)
    return response


@router.post("/logout", dependencies=[CsrfChecked])
async def create_logout(request: Request, rt: RuntimeDep, session: SessionDep, login: LoginDep) -> Response:
    await do_end_session(session, rt.now(), request.cookies.get(COOKIE, ""))
    do_audit(session, rt.now(), "logout", actor_id=login[1].id, ip=client_ip(request))
    await session.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response
