"""The young person's web chat: a private link, a join step, sending, and live replies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sse_starlette.sse import EventSourceResponse

from bot.inbound import receive
from bot.relay import RESYNC
from bot.services.invite import INVITE_PREFIX, RedeemFailure, find_invite, new_webchat_token, webchat_address
from bot.services.message import history, staff_names
from console.deps import RuntimeDep, SessionDep
from handlers import InboundEvent, Turn
from models import ChannelKind, ChannelLink, ContentKind, MediaBlob, Message, StaffMember, YoungPerson
from models.channel import address_key

router = APIRouter(prefix="/c")
MAX_WEBCHAT_TEXT = 10_000
RTL_LANGUAGES = frozenset({"ar", "fa", "ur", "ps", "he"})


def _page(request: Request, rt: RuntimeDep, name: str, context: dict, status: int = 200, language: str = "en") -> Response:  # type: ignore[type-arg]
    def t(key: str, **values: object) -> str:
        return rt.content.text(key, language, **values)

    rtl = language in RTL_LANGUAGES
    return request.app.state.templates.TemplateResponse(
        request,
        name,
        {**context, "t": t, "lang": language, "dir": "rtl" if rtl else "ltr"},
        status_code=status,
        headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex"},
    )


async def _chat(session: SessionDep, token: str) -> tuple[ChannelLink, YoungPerson, StaffMember] | None:
    link = await session.scalar(
        select(ChannelLink).where(ChannelLink.kind == ChannelKind.WEBCHAT, ChannelLink.address_key == address_key(webchat_address(token)))
    )
    if link is None:
        return None
    young_person = await session.get(YoungPerson, link.young_person_id)
    worker = await session.get(StaffMember, young_person.key_worker_id) if young_person else None
    if young_person is None or worker is None:
        return None
    return link, young_person, worker


@router.get("/{token}", response_class=HTMLResponse)
async def read_webchat(request: Request, rt: RuntimeDep, session: SessionDep, token: str) -> Response:
    if token.startswith(INVITE_PREFIX):
        invite = await find_invite(session, token, rt.now())
        if isinstance(invite, RedeemFailure):
            return _page(request, rt, "webchat/expired.html", {}, status=404)
        return _page(request, rt, "webchat/join.html", {"code": token})
    chat = await _chat(session, token)
    if chat is None:
        return _page(request, rt, "webchat/expired.html", {}, status=404)
    _, young_person, worker = chat
    rt.lifeline.remember_language(ChannelKind.WEBCHAT, webchat_address(token), young_person.language)
    messages = await history(session, young_person.id)
    names = await staff_names(session, {m.staff_id for m in messages if m.staff_id})
    return _page(
        request,
        rt,
        "webchat/chat.html",
        {"token": token, "young_person": young_person, "worker": worker, "messages": messages, "names": names, "error": None, "text": ""},
        language=young_person.language,
    )


@router.post("/{code}/join")
async def create_webchat_link(request: Request, rt: RuntimeDep, code: str) -> Response:
    """Redeem an invite for web chat: the same /start as on Telegram, then a private link."""
    token, address = new_webchat_token()
    await receive(
        rt,
        InboundEvent(channel=ChannelKind.WEBCHAT, address=address, content_kind=ContentKind.TEXT, command="start", args=code),
    )
    async with rt.db() as session:
        chat = await _chat(session, token)
    if chat is None:
        return _page(request, rt, "webchat/expired.html", {}, status=404)
    return RedirectResponse(f"/c/{token}", status_code=303)


@router.post("/{token}/messages")
async def create_webchat_message(
    request: Request, rt: RuntimeDep, session: SessionDep, token: str, text: Annotated[str, Form()] = ""
) -> Response:
    # Safeguarding before the database: an urgent message is answered with helplines at once,
    # even while the database is slow or down (web chat has no channel to send them on).
    if text.strip() and len(text) <= MAX_WEBCHAT_TEXT and rt.risk.assess(text).is_urgent:
        await session.close()
        return await _urgent_webchat_message(request, rt, token, text)
    chat = await _chat(session, token)
    if chat is None:
        return _page(request, rt, "webchat/expired.html", {}, status=404)
    _, young_person, worker = chat
    await session.close()
    htmx = request.headers.get("hx-request") == "true"
    error = None
    if not text.strip():
        error = "webchat.empty"
    elif len(text) > MAX_WEBCHAT_TEXT:
        error = "webchat.too_long"
    if error:
        context = {"token": token, "young_person": young_person, "worker": worker, "error": error, "text": text}
        return _page(request, rt, "webchat/_form.html", context, status=422, language=young_person.language)
    turn = await receive(
        rt,
        InboundEvent(channel=ChannelKind.WEBCHAT, address=webchat_address(token), content_kind=ContentKind.TEXT, text=text),
    )
    if not htmx:
        return RedirectResponse(f"/c/{token}", status_code=303)
    context = {"token": token, "young_person": young_person, "worker": worker, "error": None, "text": "", "sent": turn.message}
    return _page(request, rt, "webchat/_form.html", context, language=young_person.language)


async def _urgent_webchat_message(request: Request, rt: RuntimeDep, token: str, text: str) -> Response:
    """Store and answer an urgent message as usual if the database allows in time, else give helplines now."""
    address = webchat_address(token)
    htmx = request.headers.get("hx-request") == "true"

    async def store() -> tuple[YoungPerson, StaffMember, Turn | None] | None:
        async with rt.db() as session:
            chat = await _chat(session, token)
        if chat is None:
            return None
        _, young_person, worker = chat
        turn = await receive(rt, InboundEvent(channel=ChannelKind.WEBCHAT, address=address, content_kind=ContentKind.TEXT, text=text))
        return young_person, worker, turn

    task = asyncio.ensure_future(store())
    stored = await rt.lifeline.answer_in_time(rt, task)
    if stored is None and task.done() and task.exception() is None:
        return _page(request, rt, "webchat/expired.html", {}, status=404)  # no such chat: nothing to hold up
    if stored is not None:
        young_person, worker, turn = stored
        if not htmx:
            return RedirectResponse(f"/c/{token}", status_code=303)
        context = {"token": token, "young_person": young_person, "worker": worker, "error": None, "text": "", "sent": turn.message if turn else None}
        return _page(request, rt, "webchat/_form.html", context, language=young_person.language)
    # Held up or failed: helplines now. If it failed, the words stay in the box to send again.
    language = rt.lifeline.language(ChannelKind.WEBCHAT, address)
    failed = task.done()
    context = {
        "token": token,
        "error": "webchat.not_sent" if failed else None,
        "text": text if failed else "",
        "lifeline": rt.lifeline.helplines(rt, language).split("\n"),
    }
    return _page(request, rt, "webchat/_form.html" if htmx else "webchat/lifeline.html", context, language=language)


@router.post("/{token}/press")
async def create_webchat_press(
    request: Request,
    rt: RuntimeDep,
    session: SessionDep,
    token: str,
    message_id: Annotated[int, Form()],
    data: Annotated[str, Form(max_length=64)],
) -> Response:
    """A button pressed in the web chat: the same inbound event as a Telegram button."""
    chat = await _chat(session, token)
    if chat is None:
        return _page(request, rt, "webchat/expired.html", {}, status=404)
    _, young_person, worker = chat
    offered = await session.get(Message, message_id)
    buttons = offered.meta.get("buttons", []) if offered and offered.young_person_id == young_person.id else []
    label = next((b["label"] for row in buttons for b in row if b["data"] == data), None)
    await session.close()
    if label is None:
        return Response("That button is not on a message in this chat.", status_code=404)
    turn = await receive(
        rt,
        InboundEvent(
            channel=ChannelKind.WEBCHAT,
            address=webchat_address(token),
            content_kind=ContentKind.BUTTON,
            payload=data,
            meta={"label": label, "message_id": message_id},
        ),
    )
    if request.headers.get("hx-request") != "true":
        return RedirectResponse(f"/c/{token}", status_code=303)
    context = {"token": token, "young_person": young_person, "worker": worker, "error": None, "text": "", "sent": turn.message if turn else None}
    return _page(request, rt, "webchat/_form.html", context, language=young_person.language)


@router.get("/{token}/files/{message_id}")
async def read_webchat_file(session: SessionDep, token: str, message_id: int) -> Response:
    """Download a file the service sent into this chat, such as a calendar file."""
    chat = await _chat(session, token)
    message = await session.get(Message, message_id) if chat else None
    blob = await session.get(MediaBlob, message_id) if message and message.meta.get("attachment") else None
    if chat is None or message is None or message.young_person_id != chat[1].id or blob is None:
        return Response("No such file in this chat.", status_code=404)
    name = "".join(c for c in str(message.meta.get("file_name") or "file") if c.isalnum() or c in "-_.")
    return Response(
        blob.data,
        media_type=blob.mime_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


@router.get("/{token}/events")
async def read_webchat_events(request: Request, rt: RuntimeDep, session: SessionDep, token: str) -> Response:
    chat = await _chat(session, token)
    if chat is None:
        return Response(status_code=404)
    _, young_person, _ = chat
    await session.close()
    subscription = rt.events.subscribe({f"yp:{young_person.id}"})
    template = request.app.state.templates.get_template("webchat/_bubble.html")

    async def stream() -> AsyncIterator[dict[str, str]]:
        try:
            async for event in subscription:
                if event.kind == RESYNC:  # events from other processes were missed: the page loads the chat again
                    yield {"event": "resync", "data": ""}
                    continue
                if event.kind != "webchat":
                    continue
                async with rt.db() as db:
                    message = await db.get(Message, event.data["message_id"])
                    names = await staff_names(db, {message.staff_id} if message and message.staff_id else set())
                if message is not None:
                    yield {"event": "message", "data": template.render(m=message, names=names, token=token)}
            if subscription.overflowed:
                yield {"event": "reload", "data": ""}
        finally:
            subscription.close()

    return EventSourceResponse(stream(), ping=15)
