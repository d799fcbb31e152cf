"""Request dependencies: the runtime, a database session, the signed-in staff member, CSRF."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from sqlalchemy.ext.asyncio import AsyncSession

from bot.runtime import Runtime
from bot.services.staff import find_session
from console.security import same_token
from models import StaffMember, StaffRole, StaffSession

COOKIE = "kw_session"
BACKGROUND = "x-keyworker-background"  # the header of a request a page makes by itself, not at anyone's click


class LoginRequired(Exception):
    """No live session: send the browser to the login page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class PasswordChangeRequired(Exception):
    """Signed in with a one-time password: it must be replaced before anything else."""


class SecondFactorRequired(Exception):
    """Password accepted, but the two-factor code (or enrolment) is still to come."""


async def get_runtime(request: Request) -> Runtime:
    # async on purpose: FastAPI runs a plain-function dependency on a worker thread, a hop per request.
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(rt: RuntimeDep) -> AsyncIterator[AsyncSession]:
    async with rt.db() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def _live_session(request: Request, rt: Runtime, session: AsyncSession) -> tuple[StaffSession, StaffMember] | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    # A request a page makes by itself (the dashboard bringing in newer figures) says so: it does not count as
    # someone at the keyboard, so a console left open still signs out when its idle time is up.
    background = request.headers.get(BACKGROUND) == "1"
    found = await find_session(
        session, token, rt.now(), timedelta(minutes=rt.settings.session_idle_minutes), touch=not background
    )
    await session.commit()
    return found


async def get_pending_login(request: Request, rt: RuntimeDep, session: SessionDep) -> tuple[StaffSession, StaffMember]:
    """The session between password and second factor (or a full one): for the 2FA pages only."""
    found = await _live_session(request, rt, session)
    if found is None:
        raise LoginRequired("/")
    request.state.csrf_token = found[0].csrf_token
    return found


PendingLoginDep = Annotated[tuple[StaffSession, StaffMember], Depends(get_pending_login)]


async def get_login(request: Request, rt: RuntimeDep, session: SessionDep) -> tuple[StaffSession, StaffMember]:
    found = await _live_session(request, rt, session)
    if found is None:
        raise LoginRequired(quote(request.url.path))
    staff_session, staff = found
    if staff_session.mfa_at is None:
        raise SecondFactorRequired()
    if staff.must_change_password and request.url.path not in ("/account/password", "/logout"):
        raise PasswordChangeRequired()
    request.state.staff = staff
    request.state.csrf_token = staff_session.csrf_token
    return found


LoginDep = Annotated[tuple[StaffSession, StaffMember], Depends(get_login)]


async def get_staff(login: LoginDep) -> StaffMember:
    return login[1]


CurrentStaff = Annotated[StaffMember, Depends(get_staff)]


async def check_csrf(request: Request, login: LoginDep) -> None:
    """Refuse a state-changing request whose CSRF token does not match the session's."""
    given = request.headers.get("x-csrf-token")
    if given is None:
        form = await request.form()
        value = form.get("csrf_token")
        given = value if isinstance(value, str) else None
    if not same_token(login[0].csrf_token, given):
        raise HTTPException(status_code=403, detail="This form has expired. Please reload the page and try again.")


CsrfChecked = Depends(check_csrf)


def require_role(*roles: StaffRole):  # type: ignore[no-untyped-def]
    """Allow only staff with one of the given roles."""

    async def check(staff: CurrentStaff) -> StaffMember:
        if staff.role not in roles:
            raise HTTPException(status_code=403, detail="Your role does not allow this.")
        return staff

    return Depends(check)
