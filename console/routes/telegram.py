"""Telegram webhook: updates pushed by the Bot API, accepted only with the secret token.

POST /telegram/webhook is served by `WebhookEndpoint`, a plain ASGI layer the app puts just inside its security
headers, so an update does not go through FastAPI's router (a match against every console route) and exception
layers: about a millisecond an update (bench/inbound.py). The route below gives the same answers through FastAPI
and keeps the path in the app's route list.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from telegram import Update

from bot.channels.telegram import plain_text_event, to_event
from bot.inbound import receive
from bot.runtime import Runtime
from console.security import same_token
from handlers.turn import InboundEvent

router = APIRouter()
log = logging.getLogger(__name__)

PATH = "/telegram/webhook"
SECRET_HEADER = "x-telegram-bot-api-secret-token"
SECRET_NAME = SECRET_HEADER.encode()
OK = b'{"ok":true}'
FORBIDDEN = b'{"ok":false,"description":"forbidden"}'
TRY_AGAIN = b'{"ok":false,"description":"not handled, try again"}'


async def handle_update(rt: Runtime, given_secret: str | None, body: bytes) -> tuple[int, bytes]:
    """Check the secret, store and answer one pushed update; return the HTTP status and JSON body for Telegram."""
    secret = rt.settings.telegram_webhook_secret
    if rt.telegram is None or secret is None or not same_token(secret.get_secret_value(), given_secret):
        return 403, FORBIDDEN
    try:
        raw = json.loads(body)
        # A private text is read straight from the JSON; anything else through python-telegram-bot.
        event = plain_text_event(raw)
        update = Update.de_json(raw, rt.telegram.bot) if event is None else None
    except (ValueError, TypeError, KeyError) as exc:
        # Malformed: acknowledged so Telegram does not resend it forever, and logged without content.
        log.warning("webhook: unreadable update (%s)", type(exc).__name__)
        return 200, OK
    if event is None and update is None:
        return 200, OK
    if update is not None:
        event = to_event(update)
    if event is not None:
        # Answered only after commit: on any error Telegram gets a 500 and delivers it again.
        try:
            guard, batcher = rt.telegram.guard, rt.telegram.batcher
            alone: Callable[[InboundEvent], Awaitable[object]] = lambda event: receive(rt, event)  # noqa: E731
            if guard is not None:
                # After a few failures not caused by the database it is kept aside for staff and answered 200.
                alone = lambda event: guard.receive(event, raw, lambda event: receive(rt, event))  # noqa: E731
            if batcher is None:
                await alone(event)
            else:
                # Calls arriving together share one transaction; on any trouble each is handled alone.
                await batcher.submit(event, alone)
        except Exception as exc:
            # Logged here, by id: the error's own text (and a traceback) may quote the young person.
            log.error("webhook: update %s not handled (%s); Telegram will send it again", raw.get("update_id"), type(exc).__name__)
            return 500, TRY_AGAIN
        if event.meta.get("callback_query_id"):
            await rt.telegram.answer_button(event.meta["callback_query_id"])
    return 200, OK


@router.post(PATH)
async def create_update(request: Request) -> Response:
    # Not RuntimeDep: a plain function dependency runs on a worker thread, a hop per update (bench/inbound.py).
    status, content = await handle_update(request.app.state.runtime, request.headers.get(SECRET_HEADER), await request.body())
    return Response(content, status_code=status, media_type="application/json")


class WebhookEndpoint:
    """Serve POST /telegram/webhook straight from ASGI; every other request goes on to the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        given = next((value.decode("latin-1") for name, value in scope["headers"] if name == SECRET_NAME), None)
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # Telegram gave up on this call and will send the update again
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        status, content = await handle_update(scope["app"].state.runtime, given, b"".join(chunks))
        await send({
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())],
        })
        await send({"type": "http.response.body", "body": content})
