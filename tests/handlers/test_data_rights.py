"""Young people's data rights: /mydata, /stop and /start again, and retention after a case closes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select

from bot.clock import FrozenClock
from bot.services.opt_out import PAUSED
from bot.services.settings import do_set_checkin_schedule
from bot.services.team import do_add_team_member
from models import Flag, Job, Message, StaffMember, YoungPerson
from tests.conftest import Service, sam_joins_on_telegram
from tests.e2e.test_telegram_loop import invite_for
from tests.e2e.test_webchat_loop import join_webchat
from tests.fakes.botapi import FakeBotAPI

SAM = 7770061
WAIT = 20.0  # sends to one chat are paced at one a second, and CI machines are busy
THURSDAY_9AM = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # London is on UTC in November


async def sam_on_telegram(service: Service, fake_bot_api: FakeBotAPI) -> tuple[int, httpx.AsyncClient]:
    """Jo invites Sam, who links Telegram; return Sam's id and Jo's signed-in console."""
    console, person_id, _ = await sam_joins_on_telegram(service, fake_bot_api, SAM)
    return person_id, console


async def send(service: Service, fake_bot_api: FakeBotAPI, command: str, replies: int = 1) -> list[str]:
    """Send a command as Sam and return the texts of the replies it gets."""
    before = len(fake_bot_api.sent_messages(SAM))
    fake_bot_api.push_command(SAM, command)
    sent = await fake_bot_api.wait_for_sent_async(SAM, count=before + replies, timeout=WAIT)
    await service.idle()
    return [m["text"] for m in sent[before:]]


async def open_flags(service: Service, person_id: int) -> list[str]:
    async with service.rt.db() as session:
        rows = await session.scalars(select(Flag.kind).where(Flag.young_person_id == person_id, Flag.cleared_at.is_(None)))
        return sorted(rows)


def words(page: httpx.Response) -> str:
    """Return what a console page says, without its markup."""
    return " ".join(re.sub(r"<[^>]+>", " ", page.text).split())


async def tick(service: Service) -> None:
    await service.rt.scheduler.tick()
    await service.idle()


async def test_mydata_says_what_is_held_who_sees_it_and_takes_a_request_for_a_copy(
    service: Service, fake_bot_api: FakeBotAPI
) -> None:
    sam, _ = await sam_on_telegram(service, fake_bot_api)
    ali = await service.staff("ali", "Ali")
    async with service.rt.db() as session:
        person = await session.get(YoungPerson, sam)
        jo = await session.scalar(select(StaffMember).where(StaffMember.username == "jo"))
        await do_add_team_member(session, service.rt.now(), person, await session.merge(ali), role="life coach", added_by=jo)
        await session.commit()
    fake_bot_api.push_text(SAM, "hello Jo")
    await service.until_stored("hello Jo")

    held, who, rights = await send(service, fake_bot_api, "mydata", replies=3)

    # Sent: "hello Jo" and /mydata itself (the /start came before they were linked);
    # received: the welcome and the privacy note.
    assert "Here is what we keep about you, Sam." in held
    assert "Messages you sent: 2" in held and "Messages sent to you: 2" in held
    assert "Check-ins: 0" in held and "Appointments: 0" in held
    assert "Who can see it: Jo, Ali." in who and "Managers only see numbers" in who
    assert "We delete it 365 days after you leave" in rights and "send /stop" in rights
    assert "Samira" not in " ".join((held, who, rights))  # high privacy: no full name in a chat

    async with service.rt.db() as session:
        offered = await session.scalar(select(Message).where(Message.purpose == "mydata.rights"))
        assert offered is not None and offered.meta["buttons"][0][0]["data"] == "mydata:copy"
    for _ in range(2):  # pressed twice: one request for Jo, the same answer for Sam
        before = len(fake_bot_api.sent_messages(SAM))
        fake_bot_api.push_callback(SAM, "mydata:copy", int(offered.external_id))
        sent = await fake_bot_api.wait_for_sent_async(SAM, count=before + 1, timeout=WAIT)
        assert "We told Jo that you want a copy" in sent[-1]["text"]
    await service.idle()
    assert await open_flags(service, sam) == ["data_request"]


async def test_stop_pauses_check_ins_and_reminders_tells_the_worker_and_start_resumes_them(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    sam, console = await sam_on_telegram(service, fake_bot_api)
    async with service.rt.db() as session:
        person = await session.get(YoungPerson, sam)
        await do_set_checkin_schedule(session, clock.now(), person, service.rt.settings.tz, days=["thu", "fri"], local_time="09:00")
        await session.commit()

    [stopped] = await send(service, fake_bot_api, "stop")
    assert "We have stopped check-ins, questions and reminders" in stopped and "We told Jo" in stopped
    assert await open_flags(service, sam) == ["opted_out"]
    caseload = await console.get("/young-people")
    assert "Stopped check-ins and reminders" in caseload.text
    panel = await console.get(f"/young-people/{sam}/data/panel")
    assert "Sam sent /stop on" in words(panel)
    [again] = await send(service, fake_bot_api, "stop")
    assert "already off" in again

    # Jo books an appointment for Friday 11:00: Jo's own message goes, the reminders wait.
    booked = await console.post(f"/young-people/{sam}/appointments", data={"what": "Dentist", "day": "2026-11-27", "at": "11:00"})
    assert booked.status_code in (200, 303), booked.text
    await fake_bot_api.wait_for_sent_async(SAM, count=5, timeout=WAIT)
    await service.idle()

    clock.set(THURSDAY_9AM)
    await tick(service)  # Thursday's check-in is due: skipped
    fake_bot_api.push_text(SAM, "I am still here")
    await service.until_stored("I am still here")
    await service.idle()
    console = await service.login("jo")  # a day later: the old console session has timed out
    conversation = await console.get(f"/young-people/{sam}")
    assert "I am still here" in conversation.text  # their words still reach Jo
    clock.set(datetime(2026, 11, 26, 18, 0, tzinfo=UTC))
    await tick(service)  # the day-before reminder is due: skipped
    assert len(fake_bot_api.sent_messages(SAM)) == 5
    async with service.rt.db() as session:
        paused = sorted(await session.scalars(select(Job.kind).where(Job.outcome == PAUSED)))
    assert paused == ["appointment_reminder", "checkin"]

    clock.set(datetime(2026, 11, 26, 18, 5, tzinfo=UTC))
    [resumed] = await send(service, fake_bot_api, "start")
    assert "Welcome back, Sam! Check-ins and reminders are on again." in resumed
    assert await open_flags(service, sam) == []

    clock.set(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
    await tick(service)  # Friday: the check-in and the two-hour reminder both go again
    sent = await fake_bot_api.wait_for_sent_async(SAM, count=8, timeout=WAIT)
    texts = " | ".join(m["text"] for m in sent[6:])
    assert "Time for a check-in" in texts and "This is a reminder" in texts


async def test_stop_and_start_typed_into_the_web_chat_work_too(service: Service) -> None:
    await service.staff("jo", "Jo")
    console = await service.login("jo")
    sam, code = await invite_for(console, "Samira Haddad", "Sam")
    chat = await join_webchat(service, code)

    stopped = await service.client.post(f"{chat}/messages", data={"text": "/stop"}, headers={"HX-Request": "true"})
    assert stopped.status_code == 200
    await service.idle()
    assert "We have stopped check-ins" in (await service.client.get(chat)).text
    assert await open_flags(service, sam) == ["opted_out"]
    await service.client.post(f"{chat}/messages", data={"text": "/start"}, headers={"HX-Request": "true"})
    await service.idle()
    assert "Welcome back, Sam!" in (await service.client.get(chat)).text
    assert await open_flags(service, sam) == []


async def test_a_closed_case_is_erased_once_the_retention_period_is_over(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    sam, console = await sam_on_telegram(service, fake_bot_api)
    fake_bot_api.push_text(SAM, "my secret plan for Saturday")
    await service.until_stored("my secret plan for Saturday")
    other, _ = await invite_for(console, "Kai Brown", "Kai")  # still in the service: kept

    await service.staff("kim", "Kim")
    kim = await service.login("kim")  # another key worker: Sam is not on her caseload
    assert (await kim.post(f"/young-people/{sam}/data/left", data={"left_on": "2026-11-20"})).status_code == 404
    future = await console.post(f"/young-people/{sam}/data/left", data={"left_on": "2026-12-01"})
    assert future.status_code == 400
    left = {"left_on": "2026-11-20"}
    assert (await console.post(f"/young-people/{sam}/data/left", data=left)).status_code == 303
    assert (await console.post(f"/young-people/{sam}/data/left/undo")).status_code == 303  # a mistake: undone
    assert "Record that they left" in words(await console.get(f"/young-people/{sam}/data/panel"))
    assert (await console.post(f"/young-people/{sam}/data/left", data=left)).status_code == 303
    panel = await console.get(f"/young-people/{sam}/data/panel")
    assert "Left the service on 20 Nov 2026 ." in words(panel) and "on 20 Nov 2027 , 365 days after leaving" in words(panel)

    days = service.rt.settings.retention_days_after_leaving
    clock.set(datetime(2026, 11, 20, 3, 0, tzinfo=UTC) + timedelta(days=days - 1))
    await tick(service)  # a day early: kept, and the next night's sweep is planned
    async with service.rt.db() as session:
        assert (await session.get(YoungPerson, sam)).erased_at is None
    clock.advance(days=1)
    await tick(service)

    async with service.rt.db() as session:
        person = await session.get(YoungPerson, sam)
        assert person.erased_at == clock.now() and "Samira" not in person.full_name
        bodies = list(await session.scalars(select(Message.body).where(Message.young_person_id == sam)))
        assert bodies and set(bodies) == {None}  # counts and times kept, words gone
        assert (await session.get(YoungPerson, other)).erased_at is None
        pending = await session.scalar(select(func.count()).select_from(Job).where(Job.kind == "retention", Job.state == "pending"))
    assert pending == 0  # nothing else is waiting for retention
    console = await service.login("jo")
    panel = await console.get(f"/young-people/{sam}/data/panel")
    assert "This record was erased on" in words(panel)
    caseload = (await console.get("/young-people")).text
    assert f'href="/young-people/{sam}"' not in caseload and f'href="/young-people/{other}"' in caseload
