"""Signing in and out, and changing one's password."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.services.staff import StaffError, authenticate, do_change_password, do_end_session, do_start_session
from console.deps import COOKIE, CsrfChecked, CurrentStaff, LoginDep, RuntimeDep, SessionDep

router = APIRouter()
log = logging.getLogger(__name__)


def _safe_next(next_url: str | None) -> str:
    # Only same-site paths: never let the login form redirect to another site.
    if next_url and next_url.startswith("/") and not next_url.startswith("//"):
        return next_url
    return "/"


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
    staff = await authenticate(session, username, password)
    if staff is None:
        await session.commit()
        log.info("failed login for a username of %s characters", len(username))
        return request.app.state.templates.TemplateResponse(
            request,
            "login.html",
            {"next": _safe_next(next), "error": "That username and password do not match.", "username": username},
            status_code=401,
        )
    token = await do_start_session(session, rt.now(), staff)
    await session.commit()
    log.info("staff %s signed in", staff.id)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=rt.settings.public_url.startswith("https://"),
        max_age=12 * 3600,
    )
    return response


@router.post("/logout", dependencies=[CsrfChecked])
async def create_logout(request: Request, rt: RuntimeDep, session: SessionDep, login: LoginDep) -> Response:
    await do_end_session(session, rt.now(), request.cookies.get(COOKIE, ""))
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
    await session.commit()
    return RedirectResponse("/", status_code=303)
