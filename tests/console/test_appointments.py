"""Appointments in the staff console: the panel, the form, changes, outcomes, and who may see them."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar
from sqlalchemy import select

from bot.clock import FrozenClock
from models import Appointment, AppointmentStatus, Job, JobState, Message
from tests.conftest import Service

LONDON = ZoneInfo("Europe/London")
FORM = {"what": "Dentist", "day": "2026-11-27", "at": "15:00", "place": "Hill Street Dental", "with_whom": "Dr Patel",
        "notes": "Bring your red card"}
HTMX = {"HX-Request": "true"}


async def jo_and_sam(service: Service) -> tuple[object, int]:
    jo = await service.staff("jo", "Jo")
    sam = await service.young_person("Samira Haddad", jo, "Sam")
    return await service.login("jo"), sam.id


async def appointments(service: Service) -> list[Appointment]:
    async with service.rt.db() as session:
        return list((await session.scalars(select(Appointment).order_by(Appointment.id))).all())


async def test_the_young_persons_page_loads_the_panel_and_its_form_makes_an_appointment(service: Service) -> None:
    console, sam = await jo_and_sam(service)
    page = await console.get(f"/young-people/{sam}")
    assert f'hx-get="/young-people/{sam}/appointments/panel"' in page.text

    panel = await console.get(f"/young-people/{sam}/appointments/panel")
    assert panel.status_code == 200
    assert "Nothing planned." in panel.text and 'name="csrf_token"' in panel.text
    assert f'hx-post="/young-people/{sam}/appointments"' in panel.text

    made = await console.post(f"/young-people/{sam}/appointments", data=FORM, headers=HTMX)
    assert made.status_code == 200
    assert "Saved, and sent to Sam." in made.text
    assert "Dentist" in made.text and "Fri 27 Nov 2026, 15:00" in made.text
    assert "Hill Street Dental" in made.text and re.search(r"with <span dir=\"auto\">Dr Patel</span>", made.text) and "no answer yet" in made.text
    assert "Reminders:" in made.text and "26 Nov 18:00 (to come)" in made.text and "27 Nov 13:00 (to come)" in made.text

    [appointment] = await appointments(service)
    assert appointment.starts_at == datetime(2026, 11, 27, 15, tzinfo=UTC)
    assert appointment.status == AppointmentStatus.SCHEDULED and appointment.reminders == ["1d@18:00", "2h"]
    async with service.rt.db() as session:
        told = await session.scalar(select(Message).where(Message.purpose == "appointment.new"))
    # Not linked yet: the message is kept, and the worker sees it could not be delivered.
    assert told.body.startswith("Jo has made a plan for you") and told.delivery_status == "unreachable"

    full = await console.get(f"/young-people/{sam}/appointments")
    assert full.status_code == 200 and "Back to Sam" in full.text and "Dentist" in full.text


async def test_the_form_keeps_what_was_typed_when_something_is_wrong(service: Service) -> None:
    console, sam = await jo_and_sam(service)
    missing = await console.post(f"/young-people/{sam}/appointments", data={**FORM, "what": "  "}, headers=HTMX)
    assert missing.status_code == 422 and "Please say what the appointment is." in missing.text
    assert 'value="Hill Street Dental"' in missing.text

    past = await console.post(f"/young-people/{sam}/appointments", data={**FORM, "day": "2026-11-24"})
    assert past.status_code == 422 and "That time has passed." in past.text
    assert 'value="2026-11-24"' in past.text

    nonsense = await console.post(f"/young-people/{sam}/appointments", data={**FORM, "at": "25:61"}, headers=HTMX)
    assert nonsense.status_code == 422 and "Please give the date and the time." in nonsense.text

    forged = await service.client.post(f"/young-people/{sam}/appointments", data=FORM)
    assert forged.status_code in (303, 401, 403)  # not signed in, no CSRF token: refused
    assert await appointments(service) == []


async def test_a_worker_changes_and_cancels_an_appointment(service: Service) -> None:
    console, sam = await jo_and_sam(service)
    await console.post(f"/young-people/{sam}/appointments", data=FORM)
    [appointment] = await appointments(service)

    edit = await console.get(f"/young-people/{sam}/appointments/{appointment.id}/edit")
    assert edit.status_code == 200
    assert 'value="2026-11-27"' in edit.text and 'value="15:00"' in edit.text and "Bring your red card" in edit.text

    unchanged = await console.post(f"/young-people/{sam}/appointments/{appointment.id}", data=FORM)
    assert unchanged.status_code == 303
    assert (await appointments(service))[0].revision == 1  # nothing changed, nothing sent

    moved = await console.post(f"/young-people/{sam}/appointments/{appointment.id}", data={**FORM, "at": "16:30"})
    assert moved.status_code == 303
    [appointment] = await appointments(service)
    assert appointment.revision == 2 and appointment.starts_at == datetime(2026, 11, 27, 16, 30, tzinfo=UTC)
    async with service.rt.db() as session:
        jobs = (await session.scalars(select(Job).order_by(Job.id))).all()
    assert [(job.key, job.state) for job in jobs] == [
        (f"appt:{appointment.id}:r1:1d@18:00", JobState.CANCELLED),
        (f"appt:{appointment.id}:r1:2h", JobState.CANCELLED),
        (f"appt:{appointment.id}:r2:1d@18:00", JobState.PENDING),
        (f"appt:{appointment.id}:r2:2h", JobState.PENDING),
    ]
    assert jobs[3].due_at == datetime(2026, 11, 27, 14, 30, tzinfo=UTC)

    cancelled = await console.post(f"/young-people/{sam}/appointments/{appointment.id}/cancel", headers=HTMX)
    assert cancelled.status_code == 200 and "Cancelled, and Sam was told." in cancelled.text
    [appointment] = await appointments(service)
    assert appointment.status == AppointmentStatus.CANCELLED
    again = await console.post(f"/young-people/{sam}/appointments/{appointment.id}/cancel", headers=HTMX)
    assert again.status_code == 409 and "cannot be changed now" in again.text
    async with service.rt.db() as session:
        purposes = (await session.scalars(select(Message.purpose).order_by(Message.id))).all()
    assert purposes == ["appointment.new", "appointment.changed", "appointment.cancelled"]


async def test_after_the_time_the_worker_records_attended_or_missed(service: Service, clock: FrozenClock) -> None:
    console, sam = await jo_and_sam(service)
    await console.post(f"/young-people/{sam}/appointments", data=FORM)
    await console.post(f"/young-people/{sam}/appointments", data={**FORM, "what": "Football", "day": "2026-11-28"})
    dentist, football = await appointments(service)

    early = await console.post(f"/young-people/{sam}/appointments/{dentist.id}/outcome", data={"outcome": "attended"}, headers=HTMX)
    assert early.status_code == 409 and "once the time has come" in early.text

    clock.set(datetime(2026, 11, 28, 17, tzinfo=UTC))
    console = await service.login("jo")
    panel = await console.get(f"/young-people/{sam}/appointments/panel")
    assert panel.text.count("How did it go?") == 2 and "Nothing planned." in panel.text
    done = await console.post(f"/young-people/{sam}/appointments/{dentist.id}/outcome", data={"outcome": "attended"}, headers=HTMX)
    assert done.status_code == 200 and "Saved." in done.text
    await console.post(f"/young-people/{sam}/appointments/{football.id}/outcome", data={"outcome": "missed"})
    bad = await console.post(f"/young-people/{sam}/appointments/{football.id}/outcome", data={"outcome": "lost"}, headers=HTMX)
    assert bad.status_code == 409

    dentist, football = await appointments(service)
    assert (dentist.status, football.status) == (AppointmentStatus.ATTENDED, AppointmentStatus.MISSED)
    assert dentist.outcome_at == datetime(2026, 11, 28, 17, tzinfo=UTC) and dentist.outcome_by_id is not None
    page = await console.get(f"/young-people/{sam}/appointments")
    assert re.search(r'<span class="chip">Attended</span>', page.text)
    assert re.search(r'<span class="chip">Missed</span>', page.text)
    assert 'value="missed" class="secondary" aria-pressed="true"' in page.text
    # Past appointments cannot be moved: they are recorded instead.
    moved = await console.post(f"/young-people/{sam}/appointments/{dentist.id}", data={**FORM, "day": "2026-12-01"})
    assert moved.status_code == 422 and "cannot be changed now" in moved.text


async def test_the_worker_can_download_the_calendar_file(service: Service, clock: FrozenClock) -> None:
    clock.set(datetime(2027, 6, 14, 9, tzinfo=UTC))
    console, sam = await jo_and_sam(service)
    await console.post(f"/young-people/{sam}/appointments", data={**FORM, "day": "2027-06-16"})
    [appointment] = await appointments(service)
    download = await console.get(f"/young-people/{sam}/appointments/{appointment.id}/calendar.ics")
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/calendar")
    [event] = [c for c in Calendar.from_ical(download.content).walk() if c.name == "VEVENT"]
    assert event.decoded("dtstart") == datetime(2027, 6, 16, 15, tzinfo=LONDON)
    assert event.decoded("dtstart").astimezone(UTC).hour == 14


async def test_another_key_worker_gets_404_for_every_appointment_route(service: Service) -> None:
    console, sam = await jo_and_sam(service)
    await console.post(f"/young-people/{sam}/appointments", data=FORM)
    [appointment] = await appointments(service)
    await service.staff("ali", "Ali")
    ali = await service.login("ali")
    base = f"/young-people/{sam}/appointments"
    for path in (base, f"{base}/panel", f"{base}/list", f"{base}/{appointment.id}/edit", f"{base}/{appointment.id}/calendar.ics"):
        assert (await ali.get(path)).status_code == 404, path
    for path, data in (
        (base, FORM),
        (f"{base}/{appointment.id}", FORM),
        (f"{base}/{appointment.id}/cancel", {}),
        (f"{base}/{appointment.id}/outcome", {"outcome": "missed"}),
    ):
        assert (await ali.post(path, data=data)).status_code == 404, path

    # Jo's own young person, but an appointment number that is not theirs: 404 as well.
    other = await service.young_person("Tyler Brooks", await service.staff("kim", "Kim"), "Ty")
    assert (await console.get(f"/young-people/{other.id}/appointments/{appointment.id}/edit")).status_code == 404
    assert (await console.get(f"/young-people/{sam}/appointments/{appointment.id + 1}/edit")).status_code == 404
    [appointment] = await appointments(service)
    assert appointment.status == AppointmentStatus.SCHEDULED and appointment.revision == 1
