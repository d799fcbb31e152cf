"""A key worker's replies, a message's media, and the live event stream of the console."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sse_starlette.sse import EventSourceResponse

from bot.channels.base import RetryLater, SendFailed
from bot.events import Event
from bot.services.audit import do_audit
from bot.services.listened import do_plan_listened
from bot.services.quiet import quiet_until
from bot.media import fetch_media
from bot.services.message import MessageError, do_mark_read, do_queue_outbound, staff_names
from bot.services.staff import find_session
from bot.services.young_person import NotAllowed, audience, get_for_staff
from console.deps import COOKIE, CsrfChecked, CurrentStaff, RuntimeDep, SessionDep
from console.routes.young_people import load_young_person
from models import Direction, Message, YoungPerson

router = APIRouter()
log = logging.getLogger(__name__)


@router.post("/young-people/{young_person_id}/messages", dependencies=[CsrfChecked])
async def create_message(
    request: Request,
    rt: RuntimeDep,
    session: SessionDep,
    staff: CurrentStaff,
    young_person_id: int,
    body: Annotated[str, Form(max_length=50_000)] = "",
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    try:
        # A worker's own reply goes at once, whatever the hour, but without a sound in quiet hours.
        quiet = quiet_until(young_person, rt.now(), rt.settings.tz) is not None
        message = await do_queue_outbound(
            session, rt.now(), young_person, body=body, staff=staff, meta={"silent": True} if quiet else None
        )
    except MessageError as exc:
        # Keep what they typed: the form comes back with the text and the reason.
        return request.app.state.templates.TemplateResponse(
            request, "_reply_form.html", {"young_person": young_person, "error": str(exc), "body": body}, status_code=422
        )
    await do_plan_listened(session, rt.now(), young_person, rt.settings.tz)  # "did you feel listened to?" tomorrow, monthly at most
    await session.commit()
    rt.events.publish(Event("message", young_person.id, audience(young_person), {"message_id": message.id}))
    rt.outbox.kick([message.id])
    log.info("staff %s replied to young person %s (message %s)", staff.id, young_person.id, message.id)
    if request.headers.get("hx-request") != "true":
        return RedirectResponse(f"/young-people/{young_person.id}", status_code=303)
    return request.app.state.templates.TemplateResponse(
        request, "_reply_form.html", {"young_person": young_person, "error": None, "body": ""}
    )


@router.get("/young-people/{young_person_id}/messages/{message_id}/media")
async def read_media(
    rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, young_person_id: int, message_id: int
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    message = await session.get(Message, message_id)
    if message is None or message.young_person_id != young_person.id:
        raise HTTPException(status_code=404, detail="No such message.")
    do_audit(session, rt.now(), "view_media", actor_id=staff.id, young_person_id=young_person.id, target=f"message:{message_id}")
    await session.commit()
    try:
        blob = await fetch_media(rt, message_id)
    except (SendFailed, RetryLater):
        # Kept on Telegram's side for now: the next look fetches it again.
        raise HTTPException(status_code=503, detail="Could not fetch this from Telegram just now. Please try again soon.") from None
    if blob is None:
        raise HTTPException(status_code=404, detail="This message has no picture, sound or file.")
    return Response(
        blob.data,
        media_type=blob.mime_type,
        headers={"Cache-Control": "private, max-age=3600", "Content-Disposition": "inline"},
    )


@router.get("/events")
async def read_events(
    request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, young_person: int | None = None
) -> Response:
    """Stream live updates: new messages for the open conversation, and caseload changes."""
    viewing = await load_young_person(session, staff, young_person) if young_person else None
    await session.close()
    subscription = rt.events.subscribe({f"staff:{staff.id}"})
    templates = request.app.state.templates
    token, idle = request.cookies.get(COOKIE, ""), timedelta(minutes=rt.settings.session_idle_minutes)

    async def still_allowed() -> bool:
        """Whether this page may still be sent anything: its session live (not idle past its time nor ended, the
        account not disabled) and, on a conversation, the young person still one its staff member may see (a
        cover ends). Checked at each event: a stream opened long ago is no licence to go on sending."""
        async with rt.db() as check:
            found = await find_session(check, token, rt.now(), idle, touch=False)
            allowed = found is not None
            if found is not None and viewing is not None:
                try:
                    await get_for_staff(check, found[1], viewing.id)
                except NotAllowed:
                    allowed = False
            await check.commit()  # a session found past its time is ended
        return allowed

    async def stream() -> AsyncIterator[dict[str, str]]:
        try:
            async for event in subscription:
                if not await still_allowed():
                    # The page loads its parts again, which sends a signed-out page to sign in; nothing more comes.
                    yield {"event": "reload", "data": ""}
                    return
                if event.kind == "resync":  # events from other processes were missed: the page loads its parts again
                    yield {"event": "resync", "data": ""}
                    continue
                if viewing is not None and event.young_person_id == viewing.id and event.kind in ("message", "status"):
                    html = await _render_message(rt, templates, event, oob=event.kind == "status")
                    if html:
                        yield {"event": "message", "data": html}
                if event.kind == "alert":
                    yield {"event": "alert", "data": ""}
                yield {"event": "caseload", "data": ""}
            if subscription.overflowed:
                yield {"event": "reload", "data": ""}
        finally:
            subscription.close()

    return EventSourceResponse(stream(), ping=15)


async def _render_message(rt: RuntimeDep, templates, event: Event, *, oob: bool) -> str:  # type: ignore[no-untyped-def]
    async with rt.db() as session:
        message = await session.get(Message, event.data["message_id"])
        if message is None:
            return ""
        if message.direction == Direction.INBOUND and message.read_at is None:
            # Shown live on the open conversation: the worker has seen it.
            await do_mark_read(session, rt.now(), message.young_person_id)
            await session.commit()
        names = await staff_names(session, {message.staff_id} if message.staff_id else set())
        young_person = await session.get(YoungPerson, message.young_person_id)
    template = templates.get_template("_message.html")
    return template.render(
        m=message, names=names, young_person_id=message.young_person_id, oob=oob,
        yp_name=young_person.preferred_name if young_person else None,
    )
