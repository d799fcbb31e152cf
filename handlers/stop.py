"""/stop pauses check-ins, wellbeing questions and reminders (messages still reach the worker); /start resumes."""

from __future__ import annotations

from bot.services.opt_out import FLAG, do_resume, do_stop, is_paused
from handlers.turn import InboundEvent, Turn


def command_of(event: InboundEvent) -> str | None:
    """Name the command sent: Telegram's, or '/word' typed into the web chat (which has no command menu).

    An edited message is never a command: changing old words must not act on them again.
    """
    if event.meta.get("edited"):
        return None
    if event.command:
        return event.command
    text = (event.text or "").strip()
    if text.startswith("/") and " " not in text:
        return text[1:].lower() or None
    return None


def _worker(turn: Turn) -> str:
    return turn.key_worker.display_name if turn.key_worker else ""


async def handle(turn: Turn) -> bool:
    if turn.young_person is None or command_of(turn.event) != "stop":
        return False
    if await do_stop(turn.session, turn.now, turn.young_person):
        turn.events.append(("flag", {"kind": FLAG}))
        turn.awaiting = None  # do_stop forgot any question left waiting
        await turn.say("stop.stopped", worker=_worker(turn))
    else:
        await turn.say("stop.already_stopped", worker=_worker(turn))
    return True


async def resume(turn: Turn) -> bool:
    """Any /start from a young person who sent /stop turns prompts and reminders back on."""
    if command_of(turn.event) != "start" or not is_paused(turn.young_person):
        return False
    assert turn.young_person is not None
    await do_resume(turn.session, turn.now, turn.young_person)
    turn.events.append(("flag", {"kind": FLAG}))
    await turn.say("stop.resumed", name=turn.young_person.preferred_name)
    return True
