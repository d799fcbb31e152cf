"""Telegram webhook: updates pushed by the Bot API, accepted only with the secret token."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from telegram import Update

from bot.channels.telegram import to_event
from bot.inbound import receive
from handlers.turn import InboundEvent
from bot.runtime import Runtime
from console.security import same_token

router = APIRouter()
log = logging.getLogger(__name__)


@router.post("/telegram/webhook")
async def create_update(request: Request) -> Response:
    # Not RuntimeDep: a plain function dependency runs on a worker thread, a hop per update (bench/inbound.py).
    rt: Runtime = request.app.state.runtime
    secret = rt.settings.telegram_webhook_secret
    if rt.telegram is None or secret is None or not same_token(
        secret.get_secret_value(), request.headers.get("x-telegram-bot-api-secret-token")
    ):
        return JSONResponse({"ok": False, "description": "forbidden"}, status_code=403)
    try:
        raw = json.loads(await request.body())
        update = Update.de_json(raw, rt.telegram.bot)
    except (ValueError, TypeError, KeyError) as exc:
        # Malformed: acknowledged so Telegram does not resend it forever, and logged without content.
        log.warning("webhook: unreadable update (%s)", type(exc).__name__)
        return JSONResponse({"ok": True})
    if update is None:
        return JSONResponse({"ok": True})
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
            log.error("webhook: update %s not handled (%s); Telegram will send it again", update.update_id, type(exc).__name__)
            return JSONResponse({"ok": False, "description": "not handled, try again"}, status_code=500)
        if event.meta.get("callback_query_id"):
            await rt.telegram.answer_button(event.meta["callback_query_id"])
    return JSONResponse({"ok": True})
