"""The check-ins panel: the worker sets the schedule and quiet hours, sees answers, and marks flags done."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
from sqlalchemy import select

from bot.services.flag import do_raise_flag
from models import CheckInSchedule, Flag, Job, JobState, YoungPerson
from tests.conftest import Service


async def jo_and_sam(service: Service) -> tuple[int, httpx.AsyncClient]:
    jo = await service.staff("jo", "Jo")
    sam = await service.young_person("Samira Haddad", jo, "Sam")
    return sam.id, await service.login("jo")


async def pending_checkin_jobs(service: Service) -> list[tuple[str, datetime]]:
    async with service.rt.db() as session:
        rows = await session.execute(select(Job.key, Job.due_at).where(Job.kind == "checkin", Job.state == JobState.PENDING))
        return [(key, due) for key, due in rows]


async def test_the_conversation_page_loads_the_panel(service: Service) -> None:
    sam, console = await jo_and_sam(service)
    page = await console.get(f"/young-people/{sam}")
    assert f'hx-get="/young-people/{sam}/checkins/panel"' in page.text
    panel = await console.get(f"/young-people/{sam}/checkins/panel")
    assert panel.status_code == 200
    assert "No check-ins planned" in panel.text and "No check-ins yet" in panel.text
    assert 'name="csrf_token"' in panel.text and 'value="21:30"' in panel.text


async def test_worker_sets_the_schedule_and_quiet_hours(service: Service) -> None:
    sam, console = await jo_and_sam(service)  # Wednesday 25 November 2026, 10:00
    saved = await console.post(
        f"/young-people/{sam}/checkins/schedule",
        data={"days": ["tue", "fri"], "local_time": "17:30", "quiet_start": "22:00", "quiet_end": "07:30"},
        headers={"HX-Request": "true"},
    )
    assert saved.status_code == 200
    assert "Saved." in saved.text and "Next check-in" in saved.text and "Fri 27 Nov 17:30" in saved.text
    assert re.search(r'value="fri" checked', saved.text) and not re.search(r'value="mon" checked', saved.text)
    async with service.rt.db() as session:
        schedule = await session.get(CheckInSchedule, sam)
        young_person = await session.get(YoungPerson, sam)
    assert (schedule.days, schedule.local_time) == (["tue", "fri"], "17:30")
    assert schedule.updated_by_id is not None  # Jo, not the young person
    assert (young_person.quiet_start, young_person.quiet_end) == ("22:00", "07:30")
    assert await pending_checkin_jobs(service) == [(f"checkin:{sam}:2026-11-27", datetime(2026, 11, 27, 17, 30, tzinfo=UTC))]

    # Changing it again re-plans: still exactly one next check-in.
    again = await console.post(f"/young-people/{sam}/checkins/schedule", data={"days": ["thu"], "local_time": "09:00"})
    assert again.status_code == 303 and again.headers["location"] == f"/young-people/{sam}"
    assert await pending_checkin_jobs(service) == [(f"checkin:{sam}:2026-11-26", datetime(2026, 11, 26, 9, 0, tzinfo=UTC))]


async def test_a_bad_time_is_refused_and_nothing_changes(service: Service) -> None:
    sam, console = await jo_and_sam(service)
    refused = await console.post(
        f"/young-people/{sam}/checkins/schedule",
        data={"days": ["mon"], "local_time": "25:99"},
        headers={"HX-Request": "true"},
    )
    assert refused.status_code == 422 and "is not a time" in refused.text
    async with service.rt.db() as session:
        assert await session.get(CheckInSchedule, sam) is None
    assert await pending_checkin_jobs(service) == []


async def test_another_key_worker_gets_404_and_a_missing_csrf_token_403(service: Service) -> None:
    sam, console = await jo_and_sam(service)
    await service.staff("ali", "Ali")
    ali = await service.login("ali")
    assert (await ali.get(f"/young-people/{sam}/checkins/panel")).status_code == 404
    sneaky = await ali.post(f"/young-people/{sam}/checkins/schedule", data={"days": ["mon"], "local_time": "09:00"})
    assert sneaky.status_code == 404
    del console.headers["X-CSRF-Token"]
    forged = await console.post(f"/young-people/{sam}/checkins/schedule", data={"days": ["mon"], "local_time": "09:00"})
    assert forged.status_code == 403
    async with service.rt.db() as session:
        assert await session.get(CheckInSchedule, sam) is None


async def test_worker_marks_a_flag_done(service: Service) -> None:
    sam, console = await jo_and_sam(service)
    async with service.rt.db() as session:
        flag = await do_raise_flag(session, service.rt.now(), sam, "wants_contact", reason="talk")
        other = await do_raise_flag(session, service.rt.now(), sam, "risk_concern")
        await session.commit()
    panel = await console.get(f"/young-people/{sam}/checkins/panel")
    assert "Wants you to get in touch" in panel.text and f"/flags/{flag.id}/done" in panel.text
    assert f"/flags/{other.id}/done" not in panel.text  # safeguarding flags are closed elsewhere

    await service.staff("ali", "Ali")
    ali = await service.login("ali")
    assert (await ali.post(f"/young-people/{sam}/checkins/flags/{flag.id}/done")).status_code == 404
    assert (await console.post(f"/young-people/{sam}/checkins/flags/{other.id}/done")).status_code == 404

    done = await console.post(f"/young-people/{sam}/checkins/flags/{flag.id}/done", headers={"HX-Request": "true"})
    assert done.status_code == 200 and "Wants you to get in touch" not in done.text
    async with service.rt.db() as session:
        cleared = await session.get(Flag, flag.id)
    assert cleared.cleared_at is not None and cleared.cleared_by_id is not None
    caseload = await console.get("/young-people")
    assert "Wants you to get in touch" not in caseload.text
