"""Appointments on a young person's page: make, change, call off, and record how they went."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.events import Event
from bot.services import appointment as service
from bot.services import ics
from bot.services.appointment_reminder import reminders_for
from bot.services.young_person import audience
from console.deps import CsrfChecked, CurrentStaff, RuntimeDep, SessionDep
from console.routes.young_people import load_young_person
from models import Appointment, AppointmentStatus, Message, StaffMember, YoungPerson

router = APIRouter(prefix="/young-people/{young_person_id}/appointments")
log = logging.getLogger(__name__)
Text = Annotated[str, Form(max_length=5000)]


async def load_appointment(session: SessionDep, young_person: YoungPerson, appointment_id: int) -> Appointment:
    """Load one of this young person's appointments; 404 for any other."""
    found = await service.find_for(session, young_person.id, appointment_id)
    if found is None:
        raise HTTPException(status_code=404, detail="No appointment with that number for this young person.")
    return found


async def _context(rt: RuntimeDep, session: SessionDep, young_person: YoungPerson, **extra: object) -> dict[str, object]:
    now = rt.now()
    every = await service.appointments_for(session, young_person.id)
    upcoming = [a for a in every if a.status == AppointmentStatus.SCHEDULED and a.starts_at > now]
    past = [a for a in reversed(every) if a not in upcoming]
    return {
        "young_person": young_person,
        "upcoming": upcoming,
        "past": past,
        "reminders": await reminders_for(session, young_person.id),
        "now": now,
        "error": None,
        "form": {},
        "notice": None,
        **extra,
    }


def _words(rt: RuntimeDep, staff: StaffMember) -> service.Wording:
    return service.Wording(rt.content, rt.settings.tz, staff)


def _render(request: Request, name: str, context: dict[str, object], status: int = 200) -> Response:
    return request.app.state.templates.TemplateResponse(request, name, context, status_code=status)


def _htmx(request: Request) -> bool:
    """Say whether to answer with the panel (htmx) rather than a redirect to the full page."""
    return request.headers.get("hx-request") == "true"


def _deliver(rt: RuntimeDep, young_person: YoungPerson, message: Message | None, appointment_id: int) -> None:
    who = audience(young_person)
    if message is not None:
        rt.events.publish(Event("message", young_person.id, who, {"message_id": message.id}))
        rt.outbox.kick([message.id])
    rt.events.publish(Event("appointment", young_person.id, who, {"appointment_id": appointment_id}))


@router.get("", response_class=HTMLResponse)
async def read_appointments(
    request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, young_person_id: int
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    return _render(request, "appointments/index.html", await _context(rt, session, young_person))


@router.get("/panel", response_class=HTMLResponse)
async def read_appointments_panel(
    request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, young_person_id: int
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    return _render(request, "appointments/_panel.html", await _context(rt, session, young_person))


@router.get("/list", response_class=HTMLResponse)
async def read_appointments_list(
    request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, young_person_id: int
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    return _render(request, "appointments/_list.html", await _context(rt, session, young_person))


@router.post("", dependencies=[CsrfChecked])
async def create_appointment(
    request: Request,
    rt: RuntimeDep,
    session: SessionDep,
    staff: CurrentStaff,
    young_person_id: int,
    what: Text = "",
    day: Text = "",
    at: Text = "",
    place: Text = "",
    with_whom: Text = "",
    notes: Text = "",
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    form = {"what": what, "day": day, "at": at, "place": place, "with_whom": with_whom, "notes": notes}
    settings = rt.settings
    try:
        draft = service.parse_draft(**form, now=rt.now(), tz=settings.tz)
        appointment, message = await service.do_create_appointment(
            session, rt.now(), young_person, draft, offsets=settings.appointment_reminders, words=_words(rt, staff)
        )
    except service.AppointmentError as exc:
        # Keep what they typed: the form comes back with it and the reason.
        context = await _context(rt, session, young_person, error=str(exc), form=form)
        name = "appointments/_panel.html" if _htmx(request) else "appointments/index.html"
        return _render(request, name, context, status=422)
    await session.commit()
    _deliver(rt, young_person, message, appointment.id)
    log.info("staff %s made appointment %s for young person %s", staff.id, appointment.id, young_person.id)
    if not _htmx(request):
        return RedirectResponse(f"/young-people/{young_person.id}/appointments", status_code=303)
    notice = f"Saved, and sent to {young_person.preferred_name}."
    return _render(request, "appointments/_panel.html", await _context(rt, session, young_person, notice=notice))


@router.get("/{appointment_id}/edit", response_class=HTMLResponse)
async def read_appointment_edit(
    request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, young_person_id: int, appointment_id: int
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    appointment = await load_appointment(session, young_person, appointment_id)
    local = appointment.starts_at.astimezone(rt.settings.tz)
    form = {
        "what": appointment.what,
        "day": local.strftime("%Y-%m-%d"),
        "at": local.strftime("%H:%M"),
        "place": appointment.place,
        "with_whom": appointment.with_whom,
        "notes": appointment.notes,
    }
    context = {"young_person": young_person, "appointment": appointment, "form": form, "error": None}
    return _render(request, "appointments/edit.html", context)


@router.post("/{appointment_id}", dependencies=[CsrfChecked])
async def update_appointment(
    request: Request,
    rt: RuntimeDep,
    session: SessionDep,
    staff: CurrentStaff,
    young_person_id: int,
    appointment_id: int,
    what: Text = "",
    day: Text = "",
    at: Text = "",
    place: Text = "",
    with_whom: Text = "",
    notes: Text = "",
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    appointment = await load_appointment(session, young_person, appointment_id)
    form = {"what": what, "day": day, "at": at, "place": place, "with_whom": with_whom, "notes": notes}
    try:
        draft = service.parse_draft(**form, now=rt.now(), tz=rt.settings.tz)
        message = await service.do_update_appointment(
            session, rt.now(), young_person, appointment, draft, _words(rt, staff)
        )
    except service.AppointmentError as exc:
        context = {"young_person": young_person, "appointment": appointment, "form": form, "error": str(exc)}
        return _render(request, "appointments/edit.html", context, status=422)
    await session.commit()
    _deliver(rt, young_person, message, appointment.id)
    log.info("staff %s changed appointment %s (revision %s)", staff.id, appointment.id, appointment.revision)
    return RedirectResponse(f"/young-people/{young_person.id}/appointments", status_code=303)


@router.post("/{appointment_id}/cancel", dependencies=[CsrfChecked])
async def cancel_appointment(
    request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, young_person_id: int, appointment_id: int
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    appointment = await load_appointment(session, young_person, appointment_id)
    try:
        message = await service.do_cancel_appointment(session, rt.now(), young_person, appointment, _words(rt, staff))
    except service.AppointmentError as exc:
        return await _refused(request, rt, session, young_person, str(exc))
    await session.commit()
    _deliver(rt, young_person, message, appointment.id)
    log.info("staff %s cancelled appointment %s", staff.id, appointment.id)
    return await _done(request, rt, session, young_person, f"Cancelled, and {young_person.preferred_name} was told.")


@router.post("/{appointment_id}/outcome", dependencies=[CsrfChecked])
async def update_appointment_outcome(
    request: Request,
    rt: RuntimeDep,
    session: SessionDep,
    staff: CurrentStaff,
    young_person_id: int,
    appointment_id: int,
    outcome: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    appointment = await load_appointment(session, young_person, appointment_id)
    try:
        await service.do_record_outcome(session, rt.now(), appointment, outcome=outcome, staff=staff)
    except service.AppointmentError as exc:
        return await _refused(request, rt, session, young_person, str(exc))
    await session.commit()
    _deliver(rt, young_person, None, appointment.id)
    log.info("staff %s recorded appointment %s as %s", staff.id, appointment.id, outcome)
    return await _done(request, rt, session, young_person, "Saved.")


@router.get("/{appointment_id}/calendar.ics")
async def read_appointment_calendar(
    rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, young_person_id: int, appointment_id: int
) -> Response:
    young_person = await load_young_person(session, staff, young_person_id)
    appointment = await load_appointment(session, young_person, appointment_id)
    # The worker gets the file the young person gets, in the young person's language.
    data = ics.calendar_file(
        rt.content, young_person.language, appointment, now=rt.now(), tz=rt.settings.tz, public_url=rt.settings.public_url
    )
    return Response(
        data,
        media_type=ics.MIME_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{ics.file_name(appointment)}"', "Cache-Control": "no-store"},
    )


async def _refused(request: Request, rt: RuntimeDep, session: SessionDep, young_person: YoungPerson, error: str) -> Response:
    # The action refused before changing anything, so there is nothing to roll back.
    name = "appointments/_panel.html" if _htmx(request) else "appointments/index.html"
    return _render(request, name, await _context(rt, session, young_person, error=error), status=409)


async def _done(request: Request, rt: RuntimeDep, session: SessionDep, young_person: YoungPerson, notice: str) -> Response:
    if not _htmx(request):
        return RedirectResponse(f"/young-people/{young_person.id}/appointments", status_code=303)
    return _render(request, "appointments/_panel.html", await _context(rt, session, young_person, notice=notice))
