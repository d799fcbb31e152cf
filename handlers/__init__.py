"""Conversation handlers, tried in order for each inbound event; the catch-all comes last."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from handlers import (
    appointment, cancel, checkin, crisis, edited, gate, listened, message, missing, mydata, settings, staff_link, start, stop, wellbeing,
)
from handlers.turn import InboundEvent, Turn

Handler = Callable[[Turn], Awaitable[bool]]

HANDLERS: list[Handler] = [
    staff_link.handle,  # a worker linking their own Telegram: never treated as a young person
    stop.resume,  # /start from a young person who sent /stop: prompts and reminders back on
    start.handle,
    gate.handle,  # everything below is for linked young people only
    crisis.handle,  # safety first: urgent words, /help and "I'm not OK" before anything else
    missing.handle,  # any word from a young person marked missing alerts people at once
    edited.handle,  # an edited message reaches the worker; it is never a command or an answer
    cancel.handle,  # /cancel works from anywhere, before any flow sees it
    stop.handle,  # /stop: no more prompts or reminders; their messages still reach their worker
    mydata.handle,  # /mydata: what we hold and who sees it, and a button to ask for a copy
    appointment.handle,  # appointment buttons: answers and calendar files
    checkin.handle,  # /checkin, check-in buttons, and free text while a check-in waits for an answer
    settings.handle,  # /settings: check-in days and time, quiet hours (buttons only)
    wellbeing.handle,  # /wellbeing, its buttons, and typed answers while a question waits
    listened.handle,  # 'did you feel listened to?' answer buttons
    message.handle,  # catch-all: must be last
]

__all__ = ["HANDLERS", "Handler", "InboundEvent", "Turn"]
