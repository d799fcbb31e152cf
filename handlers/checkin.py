"""Check-ins: /checkin, the answer buttons, and free text while a check-in waits for an answer.

Steps (what `turn.awaiting.step` holds while flow is "checkin"):
  answer     the check-in was sent; a button or any free message answers it
  good_news  they tapped "I've got good news"; their next message is the news
A low mood then asks yes/no about contact by buttons only: free text there simply reaches the worker.
"""

from __future__ import annotations

from bot.services import checkin as service
from handlers.turn import Turn
from models import CheckIn, CheckInSource, ContentKind, ConversationState


async def handle(turn: Turn) -> bool:
    if turn.young_person is None:
        return False
    if turn.event.command == "checkin":
        await start(turn)
        return True
    payload = turn.event.payload or ""
    if turn.event.content_kind == ContentKind.BUTTON and payload.startswith("checkin:"):
        await press(turn, payload)
        return True
    awaiting = turn.awaiting
    if (
        awaiting is not None
        and awaiting.flow == service.FLOW
        and turn.event.command is None
        and turn.event.content_kind != ContentKind.BUTTON
        and turn.message is not None
    ):
        return await words(turn, awaiting.step, awaiting.data.get("checkin_id"))
    return False


async def start(turn: Turn) -> CheckIn:
    """Send a check-in the young person asked for."""
    checkin = await service.do_send_checkin(turn, CheckInSource.ASKED)
    turn.awaiting = await turn.session.get(ConversationState, turn.young_person.id)  # the service may have set it
    turn.events.append(("checkin", {"checkin_id": checkin.id}))
    return checkin


async def press(turn: Turn, payload: str) -> None:
    """Answer a check-in button; a stale or repeated press changes nothing and says so kindly."""
    _, ident, choice = (payload.split(":", 2) + ["", ""])[:3]
    if ident == "first":
        await _first(turn)
        return
    checkin = await turn.session.get(CheckIn, int(ident)) if ident.isdigit() else None
    if checkin is None or checkin.young_person_id != turn.young_person.id:
        await turn.say("checkin.too_old")
        return
    worker = service.worker_name(turn)
    if choice in ("yes", "no"):
        if checkin.mood is None or checkin.mood > service.LOW_MOOD or checkin.wants_contact is not None:
            await turn.say("checkin.already_answered")
            return
        await service.do_answer_contact(turn.session, turn.now, checkin, wants=choice == "yes")
        turn.events.append(("flag", {"kind": "wants_contact"}) if choice == "yes" else ("checkin", {"checkin_id": checkin.id}))
        await turn.say("checkin.contact_yes_done" if choice == "yes" else "checkin.contact_no_done", worker=worker)
        return
    latest = await service.latest_checkin(turn.session, turn.young_person.id)
    if checkin.answered_at is not None:
        await turn.say("checkin.already_answered")
        return
    if not service.is_open(checkin, latest):
        await turn.say("checkin.too_old")
        return
    turn.events.append(("checkin", {"checkin_id": checkin.id}))
    if choice.startswith("m") and choice[1:].isdigit() and int(choice[1:]) in service.MOODS:
        await _mood(turn, checkin, int(choice[1:]))
    elif choice == "talk":
        await service.do_answer_talk(turn.session, turn.now, checkin)
        await turn.finish()
        await turn.say("checkin.talk_done", worker=worker)
    elif choice == "news":
        await service.do_answer_good_news(turn.session, turn.now, checkin)
        await turn.expect(service.FLOW, "good_news", checkin_id=checkin.id)
        await turn.say("checkin.news_ask", worker=worker)
    else:
        await turn.say("checkin.too_old")


async def _mood(turn: Turn, checkin: CheckIn, mood: int) -> None:
    await service.do_answer_mood(turn.session, turn.now, checkin, mood)
    await turn.finish()
    worker = service.worker_name(turn)
    if mood <= service.LOW_MOOD:
        await turn.say("checkin.low", worker=worker, buttons=service.contact_buttons(turn, checkin))
    elif mood == 3:
        await turn.say("checkin.thanks_ok", worker=worker)
    else:
        await turn.say("checkin.thanks_good", worker=worker)


async def _first(turn: Turn) -> None:
    # The welcome's 'try a check-in' button: a second tap while that check-in is open changes nothing.
    latest = await service.latest_checkin(turn.session, turn.young_person.id)
    if latest is not None and service.is_open(latest, latest) and not latest.missed:
        await turn.say("checkin.still_open")
        return
    await start(turn)


async def words(turn: Turn, step: str, checkin_id: int | None) -> bool:
    """Take a free message (text, sticker, photo, voice) as the answer the check-in waits for."""
    checkin = await turn.session.get(CheckIn, checkin_id) if checkin_id else None
    await turn.finish()
    if checkin is None or checkin.young_person_id != turn.young_person.id:
        return False
    good_news = step == "good_news"
    if not good_news and not service.is_open(checkin, await service.latest_checkin(turn.session, turn.young_person.id)):
        return False
    await turn.message_id()  # stored now: the check-in points at it
    await service.do_record_words(turn.session, turn.now, checkin, turn.message, good_news=good_news)
    turn.events.append(("checkin", {"checkin_id": checkin.id}))
    if turn.risk is not None and turn.risk.level is not None:
        return False  # recorded; the safeguarding answer comes from the handlers after this one
    await turn.say("checkin.news_thanks" if good_news else "checkin.thanks_words", worker=service.worker_name(turn))
    return True
