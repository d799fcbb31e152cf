"""Wellbeing questions: /wellbeing, the answer buttons, and typed answers while a question waits.

Steps (what `turn.awaiting.step` holds while flow is "wellbeing"):
  answer  a question was asked (data: response_id, position, tries); a typed number, an option's
          words or, for a free-text question, any words answer it; anything else is asked again
          kindly, and a second miss pauses the questions so the message simply reaches the worker.
Buttons carry "wb:<response>:<what>": go (start or carry on), later, <position>:<value>, <position>:s
(skip), and "wb:new" starts afresh. Each press is checked against the questionnaire as it is now, so a
stale one changes nothing and says so. /cancel (handlers/cancel.py) forgets the step and keeps the
answers: /wellbeing or Carry on picks up at the first question not yet answered.
"""

from __future__ import annotations

from bot.services import wellbeing as service
from bot.services.questionnaire import SCALE, TEXT, plain
from bot.services.wellbeing_plan import do_ensure_plan
from handlers.turn import Turn
from models import ContentKind, ConversationState, ResponseStatus, WellbeingResponse

MAX_TRIES = 2  # typed answers not understood in a row before the questions pause


async def handle(turn: Turn) -> bool:
    young_person = turn.young_person
    if young_person is None:
        return False
    # Anyone linked without a plan yet (just joined, or joined before wellbeing prompts) gets the default one.
    await do_ensure_plan(turn.session, turn.now, young_person, turn.rt.settings.tz)
    event = turn.event
    if event.command == "wellbeing":
        await begin(turn)
        return True
    payload = event.payload or ""
    if event.content_kind == ContentKind.BUTTON and payload.startswith("wb:"):
        await press(turn, payload)
        return True
    awaiting = turn.awaiting
    if (
        awaiting is not None
        and awaiting.flow == service.FLOW
        and event.command is None
        and event.content_kind == ContentKind.TEXT
        and event.text
    ):
        return await typed(turn, awaiting)
    return False


async def begin(turn: Turn) -> None:
    """Carry on with a questionnaire left part way, or start the young person's planned one."""
    assert turn.young_person is not None
    response = await service.open_response(turn.session, turn.young_person.id)
    if response is not None and service.can_carry_on(response, turn.now):
        await _carry_on(turn, response)
        return
    plan = await do_ensure_plan(turn.session, turn.now, turn.young_person, turn.rt.settings.tz)
    response = await service.do_start_response(turn.session, turn.now, turn.young_person, plan.questionnaire, "self")
    await _ask(turn, response, 0, lead=turn.text("wellbeing.begin", count=_count(response)))


async def press(turn: Turn, payload: str) -> None:
    """Act on a wellbeing button, whatever has happened since it was sent."""
    assert turn.young_person is not None
    parts = payload.split(":")
    if parts[1:] == ["new"]:
        await begin(turn)
        return
    response = await turn.session.get(WellbeingResponse, int(parts[1])) if parts[1].isdigit() else None
    if response is None or response.young_person_id != turn.young_person.id:
        await turn.say("wellbeing.closed", purpose="wellbeing", buttons=service.new_buttons(turn))
        return
    if response.status == ResponseStatus.COMPLETE:
        await turn.say("wellbeing.already_done", purpose="wellbeing")
        return
    if not service.can_carry_on(response, turn.now):
        await turn.say("wellbeing.closed", purpose="wellbeing", buttons=service.new_buttons(turn))
        return
    action = parts[2] if len(parts) > 2 else ""
    if action == "go":
        await _carry_on(turn, response)
    elif action == "later":
        await _forget(turn)
        await turn.say("wellbeing.later", purpose="wellbeing", buttons=service.carry_on_buttons(turn, response))
    elif action.isdigit() and len(parts) == 4:
        await _pressed_answer(turn, response, int(action), parts[3])
    else:
        await turn.say("wellbeing.closed", purpose="wellbeing", buttons=service.new_buttons(turn))


async def _pressed_answer(turn: Turn, response: WellbeingResponse, position: int, choice: str) -> None:
    current = await service.next_position(turn.session, response)
    if current is None:
        await turn.say("wellbeing.already_done", purpose="wellbeing")
        return
    if position != current:
        # An older question's button: that one is answered already, so ask the one we are on.
        await _ask(turn, response, current, lead=turn.text("wellbeing.already_answered"))
        return
    question = service.questionnaire_of(response).questions[position]
    if choice == "s":
        await service.do_record_answer(turn.session, turn.now, response, position)
    elif choice.isdigit() and int(choice) in question.values:
        await service.do_record_answer(turn.session, turn.now, response, position, value=int(choice))
    else:
        await _ask(turn, response, current)
        return
    await _next(turn, response)


async def typed(turn: Turn, awaiting: ConversationState) -> bool:
    """Take typed words as the answer to the question waiting, or ask again kindly."""
    assert turn.young_person is not None and turn.event.text is not None
    response = await turn.session.get(WellbeingResponse, awaiting.data.get("response_id", 0))
    if (
        turn.now - awaiting.updated_at > service.ANSWER_WAIT
        or response is None
        or response.young_person_id != turn.young_person.id
        or response.status != ResponseStatus.OPEN
    ):
        # They left the questions a while ago: this is a message for their worker, not an answer.
        await _forget(turn)
        return False
    position = await service.next_position(turn.session, response)
    if position is None:
        await _forget(turn)
        return False
    question = service.questionnaire_of(response).questions[position]
    text = turn.event.text.strip()
    if plain(text) in {plain(turn.text("wellbeing.skip_button")), "skip"}:
        await service.do_record_answer(turn.session, turn.now, response, position)
    elif question.type == TEXT:
        await service.do_record_answer(turn.session, turn.now, response, position, text=text)
    elif (value := question.parse(text, turn.language)) is not None:
        await service.do_record_answer(turn.session, turn.now, response, position, value=value)
    else:
        tries = int(awaiting.data.get("tries", 0)) + 1
        if tries >= MAX_TRIES:
            await _forget(turn)
            await turn.say(
                "wellbeing.paused", purpose="wellbeing", buttons=service.carry_on_buttons(turn, response),
                worker=service.worker_name(turn),
            )
            return False  # the catch-all still answers it as a message (out of hours, for example)
        key = "wellbeing.not_a_number" if question.type == SCALE else "wellbeing.not_a_choice"
        await _ask(turn, response, position, tries=tries, lead=turn.text(key, min=question.min, max=question.max))
        return True
    await _next(turn, response)
    return True


async def _carry_on(turn: Turn, response: WellbeingResponse) -> None:
    position = await service.next_position(turn.session, response)
    if position is None:
        await turn.say("wellbeing.already_done", purpose="wellbeing")
        return
    if position == 0:
        lead = turn.text("wellbeing.begin", count=_count(response))
    else:
        lead = turn.text("wellbeing.resume", number=position + 1, count=_count(response))
    await _ask(turn, response, position, lead=lead)


async def _next(turn: Turn, response: WellbeingResponse) -> None:
    turn.events.append(("wellbeing", {"response_id": response.id}))
    position = await service.next_position(turn.session, response)
    if position is not None:
        await _ask(turn, response, position)
        return
    await _forget(turn)
    assert turn.young_person is not None
    await turn.say(
        "wellbeing.done", purpose="wellbeing", name=turn.young_person.preferred_name, worker=service.worker_name(turn)
    )


async def _ask(turn: Turn, response: WellbeingResponse, position: int, *, tries: int = 0, lead: str = "") -> None:
    await service.ask(turn, response, position, lead=lead)
    await turn.expect(service.FLOW, "answer", response_id=response.id, position=position, tries=tries)


async def _forget(turn: Turn) -> None:
    # Only our own step: a check-in waiting for its answer is left alone.
    if turn.awaiting is not None and turn.awaiting.flow == service.FLOW:
        await turn.finish()


def _count(response: WellbeingResponse) -> int:
    return len(service.questionnaire_of(response).questions)
