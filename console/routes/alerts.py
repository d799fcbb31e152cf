"""Safeguarding alerts in the console: the banner on every page, the alert page, and the duty rota."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from bot.events import Event
from bot.services.audit import do_audit
from bot.services.alert import (
    AlertError,
    actions,
    do_acknowledge_alert,
    do_add_duty_shift,
    do_close_alert,
    do_record_alert_action,
    may_see_alert,
    visible_alerts,
)
from bot.services.message import staff_names
from bot.services.staff_link import make_code
from bot.services.young_person import audience
from console.deps import CsrfChecked, CurrentStaff, RuntimeDep, SessionDep, require_role
from models import Alert, DutyShift, Message, StaffMember, StaffRole, YoungPerson

router = APIRouter()


async def _load(session: SessionDep, rt: RuntimeDep, staff: CurrentStaff, alert_id: int) -> tuple[Alert, YoungPerson]:
    alert = await session.get(Alert, alert_id)
    young_person = await session.get(YoungPerson, alert.young_person_id) if alert else None
    if alert is None or young_person is None or not await may_see_alert(session, staff, alert, young_person, rt.now()):
        raise HTTPException(status_code=404, detail="No alert with that number for you.")
    return alert, young_person


@router.get("/alerts/banner", response_class=HTMLResponse)
async def read_alert_banner(request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff) -> Response:
    alerts = [(a, yp) for a, yp in await visible_alerts(session, staff, rt.now()) if a.acknowledged_at is None]
    return request.app.state.templates.TemplateResponse(request, "alerts/_banner.html", {"alerts": alerts})


@router.get("/alerts", response_class=HTMLResponse)
async def read_alerts(request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, closed: bool = False) -> Response:
    alerts = await visible_alerts(session, staff, rt.now(), open_only=not closed)
    return request.app.state.templates.TemplateResponse(request, "alerts/list.html", {"alerts": alerts, "closed": closed})


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
async def read_alert(request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, alert_id: int) -> Response:
    alert, young_person = await _load(session, rt, staff, alert_id)
    message = await session.get(Message, alert.message_id) if alert.message_id else None
    do_audit(session, rt.now(), "view_alert", actor_id=staff.id, young_person_id=young_person.id, target=f"alert:{alert.id}")
    await session.commit()
    history = await actions(session, alert.id)
    names = await staff_names(session, {a.staff_id for a in history if a.staff_id})
    return request.app.state.templates.TemplateResponse(
        request,
        "alerts/detail.html",
        {"alert": alert, "young_person": young_person, "message": message, "actions": history, "names": names,
         "labels": rt.risk.category_label if hasattr(rt.risk, "category_label") else (lambda c: c), "error": None},
    )


def _changed(rt: RuntimeDep, alert: Alert, young_person: YoungPerson) -> None:
    rt.events.publish(Event("alert", young_person.id, audience(young_person), {"alert_id": alert.id}))


@router.post("/alerts/{alert_id}/acknowledge", dependencies=[CsrfChecked])
async def create_acknowledgement(rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, alert_id: int) -> Response:
    alert, young_person = await _load(session, rt, staff, alert_id)
    await do_acknowledge_alert(session, rt.now(), alert, staff)
    await session.commit()
    _changed(rt, alert, young_person)
    return RedirectResponse(f"/alerts/{alert_id}", status_code=303)


@router.post("/alerts/{alert_id}/actions", dependencies=[CsrfChecked])
async def create_alert_action(
    request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, alert_id: int,
    note: Annotated[str, Form(max_length=5000)] = "", close: Annotated[str, Form()] = "",
) -> Response:
    alert, young_person = await _load(session, rt, staff, alert_id)
    try:
        if close:
            await do_close_alert(session, rt.now(), alert, staff, note)
        else:
            await do_record_alert_action(session, rt.now(), alert, staff, note)
    except AlertError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    await session.commit()
    _changed(rt, alert, young_person)
    return RedirectResponse(f"/alerts/{alert_id}", status_code=303)


@router.get("/duty", response_class=HTMLResponse)
async def read_duty(request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff) -> Response:
    shifts = (
        await session.execute(
            select(DutyShift, StaffMember.display_name)
            .join(StaffMember, StaffMember.id == DutyShift.staff_id)
            .where(DutyShift.ends_at > rt.now())
            .order_by(DutyShift.starts_at)
        )
    ).all()
    people = list(await session.scalars(select(StaffMember).where(StaffMember.active.is_(True)).order_by(StaffMember.display_name)))
    return request.app.state.templates.TemplateResponse(request, "alerts/duty.html", {"shifts": shifts, "people": people})


@router.post("/duty", dependencies=[CsrfChecked, require_role(StaffRole.MANAGER, StaffRole.ADMIN)])
async def create_duty_shift(
    rt: RuntimeDep, session: SessionDep, staff_id: Annotated[int, Form()],
    starts: Annotated[str, Form(max_length=40)], ends: Annotated[str, Form(max_length=40)],
) -> Response:
    tz = rt.settings.tz
    try:
        start = datetime.fromisoformat(starts).replace(tzinfo=tz)
        end = datetime.fromisoformat(ends).replace(tzinfo=tz)
        if await session.get(StaffMember, staff_id) is None:
            raise AlertError("Choose someone for the shift.")
        await do_add_duty_shift(session, staff_id, start, end)
    except (ValueError, AlertError) as exc:
        raise HTTPException(status_code=400, detail=f"That shift is not right: {exc}") from None
    await session.commit()
    return RedirectResponse("/duty", status_code=303)


@router.get("/account/telegram", response_class=HTMLResponse)
async def read_telegram_link(request: Request, rt: RuntimeDep, staff: CurrentStaff) -> Response:
    code = make_code(rt.settings.resolved_secret_key(), staff.id, rt.now())
    link = f"https://t.me/{rt.bot_username}?start={code}" if rt.bot_username else None
    return request.app.state.templates.TemplateResponse(
        request, "alerts/telegram_link.html", {"link": link, "code": code, "linked": bool(staff.telegram_chat_id)}
    )
