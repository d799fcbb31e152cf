"""Buttons on appointment messages: an answer for the worker, or a file for the young person's calendar."""

from __future__ import annotations

from bot.services import appointment, ics
from bot.services.appointment_message import CALENDAR
from handlers.turn import Turn
from models import AppointmentAnswer


async def handle(turn: Turn) -> bool:
    payload = turn.event.payload
    if not payload or not payload.startswith("appt:") or turn.young_person is None:
        return False
    worker = turn.key_worker.display_name if turn.key_worker else ""
    press = appointment.parse_press(payload)
    found = await appointment.find_for(turn.session, turn.young_person.id, press.appointment_id) if press else None
    stale = appointment.stale_key(found, press, turn.now) if press else "appointment.stale_changed"
    if stale is not None or found is None or press is None:
        # A button on an old message: say so kindly and change nothing.
        await turn.say(stale or "appointment.stale_changed", worker=worker)
        return True
    if press.choice == CALENDAR:
        settings = turn.rt.settings
        message = await ics.do_queue_calendar(
            turn.session,
            turn.now,
            turn.young_person,
            found,
            content=turn.rt.content,
            tz=settings.tz,
            public_url=settings.public_url,
            link=turn.link,
        )
        turn.queued.append(message)
        return True
    await appointment.do_answer_appointment(turn.session, turn.now, found, AppointmentAnswer(press.choice))
    turn.events.append(("appointment", {"appointment_id": found.id}))
    await turn.say(f"appointment.said_{press.choice}", worker=worker)
    return True
