"""A young person's check-ins in the console: the schedule form, recent answers, and flags to mark done."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from bot.events import Event
from bot.services.checkin import FLAG_KINDS, do_clear_checkin_flag, open_checkin_flags, recent_checkins
from bot.services.hours import DAYS
from bot.services.settings import (
    DEFAULT_TIME,
    SettingsError,
    do_set_checkin_settings,
    get_schedule,
    next_checkin,
)
from bot.services.young_person import audience
from console.deps import CsrfChecked, CurrentStaff, RuntimeDep, SessionDep
from console.routes.young_people import load_young_person
from models import Flag, Message, YoungPerson

router = APIRouter(prefix="/young-people/{young_person_id}/checkins")
log = logging.getLogger(__name__)


async def _context(rt: RuntimeDep, session: SessionDep, young_person: YoungPerson, **extra: Any) -> dict[str, Any]:
    schedule = await get_schedule(session, young_person.id)
    checkins = await recent_checkins(session, young_person.id)
    word_ids = [c.answer_message_id for c in checkins if c.answer_message_id]
    words = {m.id: m for m in await session.scalars(select(Message).where(Message.id.in_(word_ids)))} if word_ids else {}
    form = {
        "days": list(schedule.days) if schedule else [],
        "local_time": schedule.local_time if schedule else DEFAULT_TIME,
        "quiet_start": young_person.quiet_start,
        "quiet_end": young_person.quiet_end,
    }
    return {
        "young_person": young_person,
        "days": DAYS,
        "form": form,
        "next_checkin": next_checkin(schedule, rt.now(), rt.settings.tz),
        "checkins": checkins,
        "words": words,
        "answered": sum(1 for c in checkins if c.answered_at is not None),
        "flags": await open_checkin_flags(session, young_person.id),
        "error": None,
        **extra,
    }


def _render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    return request.app.state.templates.TemplateResponse(request, name, context, status_code=status)


@router.get("/panel", response_class=HTMLResponse)
async def read_checkins_panel(
    request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, young_person_id: int
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    return _render(request, "checkins/panel.html", await _context(rt, session, young_person))


@router.get("/recent", response_class=HTMLResponse)
async def read_checkins_recent(
    request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, young_person_id: int
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    return _render(request, "checkins/_recent.html", await _context(rt, session, young_person))


@router.post("/schedule", dependencies=[CsrfChecked])
async def update_checkin_schedule(
    request: Request,
    rt: RuntimeDep,
    session: SessionDep,
    staff: CurrentStaff,
    young_person_id: int,
    days: Annotated[list[str] | None, Form()] = None,
    local_time: Annotated[str, Form(max_length=8)] = DEFAULT_TIME,
    quiet_start: Annotated[str, Form(max_length=8)] = "",
    quiet_end: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    try:
        await do_set_checkin_settings(
            session, rt.now(), young_person, rt.settings.tz, days=days or [], local_time=local_time,
            quiet_start=quiet_start or None, quiet_end=quiet_end or None, staff=staff,
        )
    except SettingsError as exc:
        # Nothing was changed: every value is checked before any is written.
        context = await _context(rt, session, young_person, error=str(exc))
        context["form"] = {"days": days or [], "local_time": local_time, "quiet_start": quiet_start, "quiet_end": quiet_end}
        return _render(request, "checkins/panel.html", context, status=422)
    await session.commit()
    log.info("staff %s set the check-in schedule of young person %s", staff.id, young_person.id)
    return await _after_change(request, rt, session, young_person, "checkins/panel.html")


@router.post("/flags/{flag_id}/done", dependencies=[CsrfChecked])
async def update_checkin_flag(
    request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, young_person_id: int, flag_id: int
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    flag = await session.get(Flag, flag_id)
    if flag is None or flag.young_person_id != young_person.id or flag.kind not in FLAG_KINDS:
        raise HTTPException(status_code=404, detail="No such flag for this young person.")
    await do_clear_checkin_flag(session, rt.now(), flag, staff)
    await session.commit()
    log.info("staff %s marked flag %s (%s) done for young person %s", staff.id, flag.id, flag.kind, young_person.id)
    return await _after_change(request, rt, session, young_person, "checkins/_recent.html")


async def _after_change(
    request: Request, rt: RuntimeDep, session: SessionDep, young_person: YoungPerson, fragment: str
) -> Response:
    rt.events.publish(Event("caseload", young_person.id, audience(young_person)))
    if request.headers.get("hx-request") != "true":
        return RedirectResponse(f"/young-people/{young_person.id}", status_code=303)
    return _render(request, fragment, await _context(rt, session, young_person, saved=True))
