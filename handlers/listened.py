"""'Did you feel listened to?': the answer buttons ("ls:<response>:<value>"), safe when stale.

The question is sent by a job (bot/services/listened.py). A typed answer is not taken: whatever they
type is a message to their worker, which is what words about not being listened to should be.
"""

from __future__ import annotations

from bot.services import listened as service
from bot.services.speaker import worker_name
from bot.services.wellbeing import questionnaire_of
from handlers.turn import Turn
from models import ContentKind, ResponseStatus, WellbeingResponse


async def handle(turn: Turn) -> bool:
    young_person, payload = turn.young_person, turn.event.payload or ""
    if young_person is None or turn.event.content_kind != ContentKind.BUTTON or not payload.startswith("ls:"):
        return False
    parts = payload.split(":")
    response = await turn.session.get(WellbeingResponse, int(parts[1])) if len(parts) == 3 and parts[1].isdigit() else None
    if response is None or response.young_person_id != young_person.id or response.questionnaire != service.QUESTIONNAIRE:
        await turn.say("listened.closed", purpose="listened")
        return True
    if response.status == ResponseStatus.COMPLETE:
        await turn.say("listened.already", purpose="listened")
        return True
    choice = parts[2]
    question = questionnaire_of(response).questions[0]
    if not service.can_answer(response, turn.now) or not choice.isdigit() or int(choice) not in question.values:
        await turn.say("listened.closed", purpose="listened")
        return True
    key = await service.do_answer_listened(turn.session, turn.now, response, int(choice))
    turn.events.append(("wellbeing", {"response_id": response.id}))
    await turn.say(key, purpose="listened", name=young_person.preferred_name, worker=worker_name(turn))
    return True
