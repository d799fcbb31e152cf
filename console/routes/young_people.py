"""Young people: the caseload, adding someone, their invite, and their conversation page."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import segno
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from bot.events import Event
from bot.services.attention import rank_caseload
from bot.services.audit import do_audit
from bot.services.invite import IssuedInvite, do_issue_invite
from bot.services.message import do_mark_read, history, staff_names
from bot.services.young_person import (
    NotAllowed,
    YoungPersonError,
    audience,
    caseload,
    do_add_young_person,
    get_for_staff,
    unread_total,
)
from console.deps import CsrfChecked, CurrentStaff, RuntimeDep, SessionDep
from models import ChannelLink, StaffMember, StaffRole, YoungPerson

router = APIRouter()


async def load_young_person(session: SessionDep, staff: CurrentStaff, young_person_id: int) -> YoungPerson:
    """Load a young person the signed-in staff member may see; 404 otherwise, so ids reveal nothing."""
    try:
        return await get_for_staff(session, staff, young_person_id)
    except NotAllowed:
        raise HTTPException(status_code=404, detail="No young person with that number on your caseload.") from None


@router.get("/", response_class=HTMLResponse)
async def read_home() -> Response:
    return RedirectResponse("/young-people", status_code=303)


@router.get("/young-people", response_class=HTMLResponse)
async def read_caseload(
    request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, fragment: bool = False, q: str = ""
) -> Response:
    rows = await rank_caseload(session, await caseload(session, staff, q[:200]), rt.now(), rt.settings.tz)
    context = {"rows": rows, "unread": await unread_total(session, staff), "q": q[:200]}
    template = "_caseload_rows.html" if fragment else "caseload.html"
    return request.app.state.templates.TemplateResponse(request, template, context)


@router.get("/unread", response_class=HTMLResponse)
async def read_unread(request: Request, session: SessionDep, staff: CurrentStaff) -> Response:
    return request.app.state.templates.TemplateResponse(
        request, "_unread.html", {"unread": await unread_total(session, staff)}
    )


async def _key_workers(session: SessionDep) -> list[StaffMember]:
    rows = await session.scalars(
        select(StaffMember)
        .where(StaffMember.role == StaffRole.KEY_WORKER, StaffMember.active.is_(True))
        .order_by(StaffMember.display_name)
    )
    return list(rows)


@router.get("/young-people/new", response_class=HTMLResponse)
async def read_new_young_person(request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff) -> Response:
    return request.app.state.templates.TemplateResponse(
        request, "young_person_new.html",
        {"workers": await _key_workers(session), "error": None, "form": {}, "languages": rt.content.languages},
    )


@router.post("/young-people", dependencies=[CsrfChecked])
async def create_young_person(
    request: Request,
    rt: RuntimeDep,
    session: SessionDep,
    staff: CurrentStaff,
    full_name: Annotated[str, Form(max_length=500)] = "",
    preferred_name: Annotated[str, Form(max_length=500)] = "",
    key_worker_id: Annotated[int | None, Form()] = None,
    language: Annotated[str, Form(max_length=8)] = "en",
) -> Response:
    worker = staff
    if staff.role != StaffRole.KEY_WORKER:
        # Managers and admins add young people onto a chosen key worker's caseload.
        worker = await session.get(StaffMember, key_worker_id) if key_worker_id else None
    try:
        if worker is None:
            raise YoungPersonError("Please choose a key worker.")
        young_person = await do_add_young_person(
            session, rt.now(), full_name=full_name, preferred_name=preferred_name, key_worker=worker,
            # The bot and the web chat speak this language (right to left where it is written so).
            language=language if language in rt.content.languages else "en",
        )
        invite = await _issue(rt, session, staff, young_person)
    except YoungPersonError as exc:
        return request.app.state.templates.TemplateResponse(
            request,
            "young_person_new.html",
            {
                "workers": await _key_workers(session),
                "error": str(exc),
                "form": {"full_name": full_name, "preferred_name": preferred_name, "language": language},
                "languages": rt.content.languages,
            },
            status_code=400,
        )
    await session.commit()
    rt.events.publish(Event("caseload", young_person.id, audience(young_person)))
    return _invite_page(request, young_person, invite)


@router.post("/young-people/{young_person_id}/invites", dependencies=[CsrfChecked])
async def create_invite(
    request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, young_person_id: int
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    invite = await _issue(rt, session, staff, young_person)
    await session.commit()
    return _invite_page(request, young_person, invite)


async def _issue(rt: RuntimeDep, session: SessionDep, staff: StaffMember, young_person: YoungPerson) -> IssuedInvite:
    return await do_issue_invite(
        session,
        rt.now(),
        young_person,
        ttl=timedelta(days=rt.settings.invite_ttl_days),
        public_url=rt.settings.public_url,
        bot_username=rt.bot_username,
        created_by_id=staff.id,
    )


def _invite_page(request: Request, young_person: YoungPerson, invite: IssuedInvite) -> Response:
    qr = segno.make(invite.telegram_url or invite.webchat_url, error="m")
    return request.app.state.templates.TemplateResponse(
        request,
        "invite.html",
        {
            "young_person": young_person,
            "invite": invite,
            "qr_svg": qr.svg_inline(scale=5, dark="#1b1b1b", title="QR code for the invite link"),
        },
    )


@router.get("/young-people/{young_person_id}", response_class=HTMLResponse)
async def read_conversation(
    request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, young_person_id: int
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    messages = await history(session, young_person.id)
    names = await staff_names(session, {m.staff_id for m in messages if m.staff_id} | {young_person.key_worker_id})
    links = list(await session.scalars(select(ChannelLink).where(ChannelLink.young_person_id == young_person.id)))
    do_audit(session, rt.now(), "view_messages", actor_id=staff.id, young_person_id=young_person.id, target=f"young_person:{young_person.id}")
    marked = await do_mark_read(session, rt.now(), young_person.id)
    await session.commit()
    if marked:
        rt.events.publish(Event("caseload", young_person.id, audience(young_person)))
    return request.app.state.templates.TemplateResponse(
        request,
        "conversation.html",
        {
            "young_person": young_person,
            "messages": messages,
            "names": names,
            "links": links,
            "key_worker_name": names.get(young_person.key_worker_id, ""),
        },
    )
