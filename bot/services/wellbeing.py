"""Wellbeing questions: asking them one at a time, storing each answer, and scoring as they go."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.questionnaire import CHOICE, SCALE, Question, Questionnaire, get_questionnaire, localised
from bot.services.speaker import Buttons, Speaker, worker_name
from models import (
    Message,
    ResponseStatus,
    WellbeingAnswer,
    WellbeingResponse,
    YoungPerson,
)

FLOW = "wellbeing"
# Older than this, a questionnaire left part way is closed and a new one started: "yesterday" has moved on.
CARRY_ON_WITHIN = timedelta(days=7)
# A typed message this long after the last question is a new message, not an answer: they have left.
ANSWER_WAIT = timedelta(hours=1)
# Questionnaires asked on their own, with their own job and buttons (bot/services/listened.py): never a
# wellbeing plan, never carried on or closed by /wellbeing.
ASKED_ON_THEIR_OWN = frozenset({"listened"})

def intro_buttons(speaker: Speaker, response: WellbeingResponse) -> Buttons:
    return [
        [{"label": speaker.text("wellbeing.start_button"), "data": f"wb:{response.id}:go"}],
        [{"label": speaker.text("wellbeing.later_button"), "data": f"wb:{response.id}:later"}],
    ]


def carry_on_buttons(speaker: Speaker, response: WellbeingResponse) -> Buttons:
    return [[{"label": speaker.text("wellbeing.carry_on_button"), "data": f"wb:{response.id}:go"}]]


def new_buttons(speaker: Speaker) -> Buttons:
    return [[{"label": speaker.text("wellbeing.start_button"), "data": "wb:new"}]]


def answer_buttons(speaker: Speaker, response: WellbeingResponse, position: int, question: Question) -> Buttons:
    """Offer the answers as buttons, 0-10 as two rows, with Skip always last."""
    prefix = f"wb:{response.id}:{position}:"
    rows: Buttons = []
    if question.type == SCALE:
        values = question.values
        half = (len(values) + 1) // 2 if len(values) > 6 else len(values)
        for row in (values[:half], values[half:]):
            if row:
                rows.append([{"label": str(v), "data": f"{prefix}{v}"} for v in row])
    elif question.type == CHOICE:
        rows += [[{"label": localised(o.label, speaker_language(speaker)), "data": f"{prefix}{o.value}"}] for o in question.options]
    rows.append([{"label": speaker.text("wellbeing.skip_button"), "data": f"{prefix}s"}])
    return rows


def speaker_language(speaker: Speaker) -> str:
    return speaker.young_person.language if speaker.young_person else "en"


async def ask(speaker: Speaker, response: WellbeingResponse, position: int, *, lead: str = "") -> Message | None:
    """Send one question with its buttons and a hint on how to answer, after a worded lead line if given."""
    questionnaire = questionnaire_of(response)
    question = questionnaire.questions[position]
    language = speaker_language(speaker)
    names = {"name": speaker.young_person.preferred_name if speaker.young_person else "", "worker": worker_name(speaker)}
    if question.type == SCALE:
        assert question.low is not None and question.high is not None
        hint = speaker.text(
            "wellbeing.scale_hint", min=question.min, max=question.max,
            low=localised(question.low, language), high=localised(question.high, language),
        )
    else:
        hint = speaker.text("wellbeing.choice_hint" if question.type == CHOICE else "wellbeing.text_hint")
    return await speaker.say(
        "wellbeing.question",
        purpose="wellbeing_question",
        buttons=answer_buttons(speaker, response, position, question),
        lead=lead,
        number=position + 1,
        count=len(questionnaire.questions),
        question=localised(question.text, language).format(**names),
        hint=hint,
    )


def questionnaire_of(response: WellbeingResponse) -> Questionnaire:
    found = get_questionnaire(response.questionnaire)
    if found is None:
        raise LookupError(f"questionnaire {response.questionnaire!r} of response {response.id} is not shipped")
    return found


async def open_response(session: AsyncSession, young_person_id: int) -> WellbeingResponse | None:
    """Return the young person's newest questionnaire still open, if any."""
    return await session.scalar(
        select(WellbeingResponse)
        .where(
            WellbeingResponse.young_person_id == young_person_id,
            WellbeingResponse.status == ResponseStatus.OPEN,
            WellbeingResponse.questionnaire.not_in(ASKED_ON_THEIR_OWN),
        )
        .order_by(WellbeingResponse.started_at.desc(), WellbeingResponse.id.desc())
        .limit(1)
    )


async def answers_of(session: AsyncSession, response_id: int) -> list[WellbeingAnswer]:
    rows = await session.scalars(
        select(WellbeingAnswer).where(WellbeingAnswer.response_id == response_id).order_by(WellbeingAnswer.position)
    )
    return list(rows)


async def next_position(session: AsyncSession, response: WellbeingResponse) -> int | None:
    """Return the place of the first question not yet answered or skipped, or None if all are."""
    done_ids = {a.question for a in await answers_of(session, response.id)}
    for position, question in enumerate(questionnaire_of(response).questions):
        if question.id not in done_ids:
            return position
    return None


def can_carry_on(response: WellbeingResponse, now: datetime) -> bool:
    return response.status == ResponseStatus.OPEN and now - response.started_at <= CARRY_ON_WITHIN


async def do_start_response(
    session: AsyncSession, now: datetime, young_person: YoungPerson, questionnaire_id: str, trigger: str
) -> WellbeingResponse:
    """Open a new questionnaire for a young person; one left part way before it is closed, answers kept."""
    await session.execute(
        update(WellbeingResponse)
        .where(
            WellbeingResponse.young_person_id == young_person.id,
            WellbeingResponse.status == ResponseStatus.OPEN,
            WellbeingResponse.questionnaire.not_in(ASKED_ON_THEIR_OWN),
        )
        .values(status=ResponseStatus.CLOSED, updated_at=now)
        .execution_options(synchronize_session="fetch")
    )
    response = WellbeingResponse(
        young_person_id=young_person.id, questionnaire=questionnaire_id, language=young_person.language,
        trigger=trigger, status=ResponseStatus.OPEN, started_at=now, updated_at=now, scores={},
    )
    session.add(response)
    await session.flush()
    return response


async def do_record_answer(
    session: AsyncSession,
    now: datetime,
    response: WellbeingResponse,
    position: int,
    *,
    value: int | None = None,
    text: str | None = None,
) -> WellbeingAnswer:
    """Store one answer (no value and no text is a skip), rescore, and complete the questionnaire if it was the last."""
    questionnaire = questionnaire_of(response)
    question = questionnaire.questions[position]
    if value is not None and value not in question.values:
        raise ValueError(f"{value} is not an answer to {questionnaire.id}.{question.id}")
    answer = WellbeingAnswer(
        response_id=response.id, question=question.id, position=position, value=value, text=text,
        skipped=value is None and not text, answered_at=now,
    )
    session.add(answer)
    await session.flush()
    answers = await answers_of(session, response.id)
    response.scores = questionnaire.score({a.question: a.value for a in answers if a.value is not None})
    response.updated_at = now
    if len(answers) == len(questionnaire.questions):
        response.status, response.completed_at = ResponseStatus.COMPLETE, now
    await session.flush()
    return answer


@dataclass(frozen=True)
class AnswerView:
    question: Question
    answer: WellbeingAnswer | None


@dataclass(frozen=True)
class ResponseView:
    response: WellbeingResponse
    questionnaire: Questionnaire
    answers: tuple[AnswerView, ...]

    @property
    def answered(self) -> int:
        return sum(1 for a in self.answers if a.answer is not None and not a.answer.skipped)


async def responses_for(session: AsyncSession, young_person_id: int, limit: int = 60) -> list[ResponseView]:
    """Return a young person's questionnaires, oldest first, each with every question and its answer."""
    rows = list(
        await session.scalars(
            select(WellbeingResponse)
            .where(WellbeingResponse.young_person_id == young_person_id)
            .order_by(WellbeingResponse.started_at.desc(), WellbeingResponse.id.desc())
            .limit(limit)
        )
    )
    rows.reverse()
    by_response: dict[int, dict[str, WellbeingAnswer]] = {r.id: {} for r in rows}
    if rows:
        for answer in await session.scalars(select(WellbeingAnswer).where(WellbeingAnswer.response_id.in_(by_response))):
            by_response[answer.response_id][answer.question] = answer
    views = []
    for response in rows:
        questionnaire = get_questionnaire(response.questionnaire)
        if questionnaire is None:
            continue  # a questionnaire withdrawn from content/: its rows stay, unshown
        found = by_response[response.id]
        views.append(
            ResponseView(response, questionnaire, tuple(AnswerView(q, found.get(q.id)) for q in questionnaire.questions))
        )
    return views

