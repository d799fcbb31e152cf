"""Canned replies: a worker's own list to edit, and putting one in the reply box of a conversation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.services.canned_reply import (
    MAX_BODY_LENGTH,
    CannedReplyError,
    canned_replies,
    do_create_canned_reply,
    do_delete_canned_reply,
    do_seed_canned_replies,
    do_update_canned_reply,
    fill,
    get_canned_reply,
)
from console.deps import CsrfChecked, CurrentStaff, RuntimeDep, SessionDep
from console.routes.young_people import load_young_person

router = APIRouter()


async def _page(request: Request, session: SessionDep, staff: CurrentStaff, *, error: str | None = None,
                notice: str | None = None, form: dict | None = None, status: int = 200) -> Response:  # type: ignore[type-arg]
    context = {"replies": await canned_replies(session, staff.id), "error": error, "notice": notice, "form": form or {}}
    return request.app.state.templates.TemplateResponse(request, "canned_replies/page.html", context, status_code=status)


@router.get("/canned-replies", response_class=HTMLResponse)
async def read_canned_replies(request: Request, session: SessionDep, staff: CurrentStaff, saved: str = "") -> Response:
    notices = {"added": "Added.", "changed": "Changed.", "deleted": "Deleted."}
    return await _page(request, session, staff, notice=notices.get(saved))


@router.post("/canned-replies", dependencies=[CsrfChecked])
async def create_canned_reply(
    request: Request,
    rt: RuntimeDep,
    session: SessionDep,
    staff: CurrentStaff,
    title: Annotated[str, Form(max_length=500)] = "",
    body: Annotated[str, Form(max_length=MAX_BODY_LENGTH * 2)] = "",
) -> Response:
    try:
        await do_create_canned_reply(session, rt.now(), staff, title=title, body=body)
    except CannedReplyError as exc:
        return await _page(request, session, staff, error=str(exc), form={"title": title, "body": body}, status=422)
    await session.commit()
    return RedirectResponse("/canned-replies?saved=added", status_code=303)


@router.post("/canned-replies/starters", dependencies=[CsrfChecked])
async def create_starter_replies(rt: RuntimeDep, session: SessionDep, staff: CurrentStaff) -> Response:
    if not await canned_replies(session, staff.id):
        await do_seed_canned_replies(session, rt.now(), staff)
        await session.commit()
    return RedirectResponse("/canned-replies?saved=added", status_code=303)


@router.post("/canned-replies/update", dependencies=[CsrfChecked])
async def update_canned_reply(
    request: Request,
    rt: RuntimeDep,
    session: SessionDep,
    staff: CurrentStaff,
    reply_id: Annotated[int, Form()],
    title: Annotated[str, Form(max_length=500)] = "",
    body: Annotated[str, Form(max_length=MAX_BODY_LENGTH * 2)] = "",
) -> Response:
    # Ids go in the form, not the path: a worker's list is theirs, and anyone else's id is simply not found.
    reply = await get_canned_reply(session, staff.id, reply_id)
    if reply is None:
        raise HTTPException(status_code=404, detail="No canned reply with that number in your list.")
    try:
        await do_update_canned_reply(session, rt.now(), reply, title=title, body=body)
    except CannedReplyError as exc:
        await session.rollback()
        return await _page(request, session, staff, error=str(exc), status=422)
    await session.commit()
    return RedirectResponse("/canned-replies?saved=changed", status_code=303)


@router.post("/canned-replies/delete", dependencies=[CsrfChecked])
async def delete_canned_reply(session: SessionDep, staff: CurrentStaff, reply_id: Annotated[int, Form()]) -> Response:
    reply = await get_canned_reply(session, staff.id, reply_id)
    if reply is None:
        raise HTTPException(status_code=404, detail="No canned reply with that number in your list.")
    await do_delete_canned_reply(session, reply)
    await session.commit()
    return RedirectResponse("/canned-replies?saved=deleted", status_code=303)


@router.get("/young-people/{young_person_id}/canned-replies", response_class=HTMLResponse)
async def read_canned_picker(request: Request, session: SessionDep, staff: CurrentStaff, young_person_id: int) -> Response:
    """The list of canned replies under a conversation's reply box."""
    young_person = await load_young_person(session, staff, young_person_id)
    return request.app.state.templates.TemplateResponse(
        request, "canned_replies/_picker.html",
        {"young_person": young_person, "replies": await canned_replies(session, staff.id)},
    )


@router.get("/young-people/{young_person_id}/reply", response_class=HTMLResponse)
async def read_reply_form(
    request: Request, session: SessionDep, staff: CurrentStaff, young_person_id: int, canned: int | None = None,
    body: str = "",
) -> Response:
    """The reply box again, with a canned reply added after whatever was typed so far."""
    young_person = await load_young_person(session, staff, young_person_id)
    reply = await get_canned_reply(session, staff.id, canned) if canned else None
    if reply is not None:
        body = f"{body.rstrip()}\n\n{fill(reply, young_person)}" if body.strip() else fill(reply, young_person)
    if request.headers.get("hx-request") != "true":
        return RedirectResponse(f"/young-people/{young_person.id}", status_code=303)
    return request.app.state.templates.TemplateResponse(
        request, "_reply_form.html", {"young_person": young_person, "error": None, "body": body[:20_000]}
    )
