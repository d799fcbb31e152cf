"""A young person's wellbeing questions in the console: the plan, scores over time, and the answers behind them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from bot.runtime import Runtime
from bot.services.chart import Point, line_chart, number
from bot.services.questionnaire import Questionnaire, questionnaires
from bot.services.wellbeing import ASKED_ON_THEIR_OWN, ResponseView, responses_for
from bot.services.wellbeing_plan import FREQUENCIES, WellbeingError, do_ensure_plan, do_send_now, do_set_plan, get_plan
from console.deps import CsrfChecked, CurrentStaff, RuntimeDep, SessionDep
from console.routes.young_people import load_young_person
from models import StaffMember, YoungPerson

router = APIRouter(prefix="/young-people/{young_person_id}/wellbeing")


@dataclass(frozen=True)
class ScoreChart:
    label: str
    svg: Markup


@dataclass(frozen=True)
class Section:
    """One questionnaire's results: a chart per score, and the responses for the table and the answers."""

    questionnaire: Questionnaire
    charts: tuple[ScoreChart, ...]
    responses: tuple[ResponseView, ...]


def _sections(rt: Runtime, young_person: YoungPerson, views: list[ResponseView]) -> list[Section]:
    sections = []
    for questionnaire in questionnaires().values():
        mine = [v for v in views if v.questionnaire.id == questionnaire.id]
        if not mine:
            continue
        charts = []
        for score in questionnaire.scores:
            points = [
                Point(v.response.completed_at or v.response.updated_at, float(v.response.scores[score.id]))
                for v in mine
                if v.response.scores.get(score.id) is not None
            ]
            if points:
                svg = line_chart(
                    f"wb-{young_person.id}-{questionnaire.id}-{score.id}", score.label, points,
                    low=score.low, high=score.high, higher_is_better=score.higher_is_better, tz=rt.settings.tz,
                )
                charts.append(ScoreChart(score.label, svg))
        sections.append(Section(questionnaire, tuple(charts), tuple(reversed(mine))))
    return sections


async def _panel(
    request: Request, rt: Runtime, session: AsyncSession, young_person: YoungPerson, *,
    template: str = "wellbeing/_panel.html", status: int = 200, **extra: Any,
) -> Response:
    plan = await get_plan(session, young_person.id)
    if plan is None and young_person.linked_at is not None:
        # Everyone linked is on the default plan; make it real so the next date shown is a scheduled one.
        plan = await do_ensure_plan(session, rt.now(), young_person, rt.settings.tz)
        await session.commit()
    views = await responses_for(session, young_person.id)
    worker = await session.get(StaffMember, young_person.key_worker_id)
    context = {
        "young_person": young_person,
        "worker_name": worker.display_name if worker else "",
        "number": number,
        "plan": plan,
        "questionnaires": [q for q in questionnaires().values() if q.id not in ASKED_ON_THEIR_OWN],
        "frequencies": list(FREQUENCIES),
        "sections": _sections(rt, young_person, views),
        "error": None,
        "notice": None,
        **extra,
    }
    return request.app.state.templates.TemplateResponse(request, template, context, status_code=status)


def _htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


@router.get("/panel", response_class=HTMLResponse)
async def read_wellbeing_panel(
    request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, young_person_id: int
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    return await _panel(request, rt, session, young_person)


@router.get("", response_class=HTMLResponse)
async def read_wellbeing(
    request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, young_person_id: int
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    return await _panel(request, rt, session, young_person, template="wellbeing/page.html")


@router.post("/plan", dependencies=[CsrfChecked])
async def update_wellbeing_plan(
    request: Request,
    rt: RuntimeDep,
    session: SessionDep,
    staff: CurrentStaff,
    young_person_id: int,
    questionnaire: Annotated[str, Form(max_length=32)] = "",
    frequency: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    try:
        await do_set_plan(
            session, rt.now(), young_person, rt.settings.tz, questionnaire=questionnaire, frequency=frequency, staff=staff
        )
    except WellbeingError as exc:  # checked before anything is written
        # htmx swaps only 2xx answers into the page, so the panel with its error comes back as 200 there.
        if _htmx(request):
            return await _panel(request, rt, session, young_person, error=str(exc))
        return await _panel(request, rt, session, young_person, template="wellbeing/page.html", status=400, error=str(exc))
    await session.commit()
    if not _htmx(request):
        return RedirectResponse(f"/young-people/{young_person.id}/wellbeing", status_code=303)
    return await _panel(request, rt, session, young_person, notice="Saved.")


@router.post("/prompts", dependencies=[CsrfChecked])
async def create_wellbeing_prompt(
    request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, young_person_id: int
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    await do_send_now(session, rt.now(), young_person, staff)
    await session.commit()
    if not _htmx(request):
        return RedirectResponse(f"/young-people/{young_person.id}/wellbeing", status_code=303)
    return await _panel(
        request, rt, session, young_person,
        notice="The questions will be sent in a moment, or when their quiet hours end.",
    )
