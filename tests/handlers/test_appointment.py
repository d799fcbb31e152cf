"""Appointments from the young person's side: told at once, reminded on time, buttons, calendar files."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from icalendar import Calendar
from sqlalchemy import select

from bot.clock import FrozenClock
from bot.services.indicators import Scope, compute_dashboard, make_period
from models import Appointment, Flag, Job, JobState, Message, YoungPerson
from tests.conftest import Service, sam_joins_on_telegram
from tests.e2e.test_telegram_loop import invite_for
from tests.e2e.test_webchat_loop import join_webchat
from tests.fakes.botapi import FakeBotAPI

CHAT = 6660001
LONDON = ZoneInfo("Europe/London")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


async def sam_on_telegram(service: Service, fake_bot_api: FakeBotAPI) -> tuple[httpx.AsyncClient, int]:
    """Jo adds Sam, who joins on Telegram; return Jo's console and Sam's id."""
    console, person_id, _ = await sam_joins_on_telegram(service, fake_bot_api, CHAT)
    return console, person_id


async def make(service: Service, console: httpx.AsyncClient, person_id: int, day: str, at: str, **fields: str) -> int:
    """Make an appointment through the console form and return its id."""
    form = {"what": "Dentist", "day": day, "at": at, "place": "Hill Street Dental", "with_whom": "Dr Patel",
            "notes": "Bring your red card", **fields}
    response = await console.post(f"/young-people/{person_id}/appointments", data=form)
    assert response.status_code == 303 and response.headers["location"].endswith("/appointments"), response.text
    await service.idle()
    async with service.rt.db() as session:
        return await session.scalar(select(Appointment.id).order_by(Appointment.id.desc()).limit(1))


async def run_at(service: Service, clock: FrozenClock, fake_bot_api: FakeBotAPI, moment: datetime) -> list[dict]:
    """Move the clock, run whatever is due, and return what reached Sam's chat because of it."""
    before = len(fake_bot_api.sent_messages(CHAT))
    clock.set(moment)
    await service.rt.scheduler.tick()
    await service.idle()
    return fake_bot_api.sent_messages(CHAT)[before:]


async def eventually(check: Callable[[], object], attempts: int = 500) -> None:
    for _ in range(attempts):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


async def telegram_id(service: Service, purpose: str) -> int:
    """Return the Telegram message id of the newest message of a purpose sent to Sam."""
    async with service.rt.db() as session:
        external = await session.scalar(
            select(Message.external_id).where(Message.purpose == purpose).order_by(Message.id.desc()).limit(1)
        )
    assert external, f"no {purpose} message was delivered"
    return int(external)


async def press(service: Service, fake_bot_api: FakeBotAPI, data: str, purpose: str = "appointment.reminder") -> str:
    """Tap a button on the newest message of a purpose; return the bot's answer."""
    count = len(fake_bot_api.sent_messages(CHAT))
    fake_bot_api.push_callback(CHAT, data, await telegram_id(service, purpose))
    sent = await fake_bot_api.wait_for_sent_async(CHAT, count=count + 1)
    await service.idle()
    return sent[-1]["text"]


async def reminder_jobs(service: Service, appointment_id: int) -> list[Job]:
    async with service.rt.db() as session:
        rows = await session.scalars(select(Job).where(Job.key.startswith(f"appt:{appointment_id}:")).order_by(Job.id))
        return list(rows)


async def test_young_person_is_told_at_once_with_the_worker_and_local_time(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    console, person_id = await sam_on_telegram(service, fake_bot_api)
    await make(service, console, person_id, "2026-11-27", "15:00")

    told = fake_bot_api.sent_messages(CHAT)[-1]
    text = told["text"]
    assert text.startswith("Jo has made a plan for you")
    assert "📅 Dentist" in text and "When: on Friday 27 November at 3pm" in text
    assert "Where: Hill Street Dental" in text and "With: Dr Patel" in text and "Note: Bring your red card" in text
    labels = [b["text"] for row in told["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["I'll be there", "I can't make it", "I need help getting there", "Add to my calendar"]
    assert not told.get("disable_notification")

    clock.set(utc(2026, 11, 25, 22))  # Jo working late: Sam is told at once, without a sound
    console = await service.login("jo")
    await make(service, console, person_id, "2026-11-28", "10:00", what="Football")
    late = fake_bot_api.sent_messages(CHAT)[-1]
    assert "📅 Football" in late["text"] and "When: on Saturday 28 November at 10am" in late["text"]
    assert late["disable_notification"] is True


@pytest.mark.parametrize(
    ("made_at", "day", "at", "evening_before", "two_hours_before", "when_evening", "when_day"),
    [
        # Winter (GMT): Friday 27 November 2026 at 3pm.
        (utc(2026, 11, 25, 10), "2026-11-27", "15:00", utc(2026, 11, 26, 18), utc(2026, 11, 27, 13), "tomorrow at 3pm", "today at 3pm"),
        # Summer (BST, UTC+1): Wednesday 16 June 2027 at 3pm.
        (utc(2027, 6, 14, 9), "2027-06-16", "15:00", utc(2027, 6, 15, 17), utc(2027, 6, 16, 12), "tomorrow at 3pm", "today at 3pm"),
        # Clocks go forward on Sunday 28 March 2027: made in GMT, the evening before is in BST.
        (utc(2027, 3, 26, 10), "2027-03-29", "11:00", utc(2027, 3, 28, 17), utc(2027, 3, 29, 8), "tomorrow at 11am", "today at 11am"),
        # Clocks go back on Sunday 25 October 2026: the evening before is in BST, the day itself in GMT.
        (utc(2026, 10, 22, 10), "2026-10-25", "15:00", utc(2026, 10, 24, 17), utc(2026, 10, 25, 13), "tomorrow at 3pm", "today at 3pm"),
    ],
    ids=["winter", "summer", "spring-forward", "autumn-back"],
)
async def test_reminders_at_six_the_evening_before_and_two_hours_before(
    service: Service,
    fake_bot_api: FakeBotAPI,
    clock: FrozenClock,
    made_at: datetime,
    day: str,
    at: str,
    evening_before: datetime,
    two_hours_before: datetime,
    when_evening: str,
    when_day: str,
) -> None:
    clock.set(made_at)
    console, person_id = await sam_on_telegram(service, fake_bot_api)
    appointment_id = await make(service, console, person_id, day, at)
    assert evening_before.astimezone(LONDON).strftime("%H:%M") == "18:00"

    assert await run_at(service, clock, fake_bot_api, evening_before - timedelta(minutes=1)) == []
    sent = await run_at(service, clock, fake_bot_api, evening_before)
    assert len(sent) == 1
    assert sent[0]["text"].startswith("Hi Sam. This is a reminder.\n📅 Dentist\n")
    assert f"When: {when_evening}" in sent[0]["text"] and sent[0]["text"].endswith("Can you go? Tap a button to tell Jo.")
    assert [b["callback_data"] for row in sent[0]["reply_markup"]["inline_keyboard"] for b in row][:3] == [
        f"appt:{appointment_id}:1:{choice}" for choice in ("yes", "cant", "help")
    ]

    assert await run_at(service, clock, fake_bot_api, two_hours_before - timedelta(minutes=1)) == []
    sent = await run_at(service, clock, fake_bot_api, two_hours_before)
    assert len(sent) == 1 and f"When: {when_day}" in sent[0]["text"]
    assert await run_at(service, clock, fake_bot_api, two_hours_before + timedelta(hours=3)) == []


async def set_quiet_hours(service: Service, person_id: int, start: str, end: str) -> None:
    async with service.rt.db() as session:
        person = await session.get(YoungPerson, person_id)
        person.quiet_start, person.quiet_end = start, end
        await session.commit()


async def test_quiet_hours_hold_the_evening_reminder_until_they_end(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    console, person_id = await sam_on_telegram(service, fake_bot_api)
    await set_quiet_hours(service, person_id, "17:00", "08:00")  # quiet from 5pm: 6pm falls inside
    appointment_id = await make(service, console, person_id, "2026-11-27", "14:00")

    assert await run_at(service, clock, fake_bot_api, utc(2026, 11, 26, 18)) == []
    held = (await reminder_jobs(service, appointment_id))[0]
    assert held.state == JobState.PENDING and held.outcome == "quiet hours"
    assert held.due_at == utc(2026, 11, 27, 8)
    assert await run_at(service, clock, fake_bot_api, utc(2026, 11, 27, 7, 59)) == []

    sent = await run_at(service, clock, fake_bot_api, utc(2026, 11, 27, 8))
    assert len(sent) == 1 and "When: today at 2pm" in sent[0]["text"]
    sent = await run_at(service, clock, fake_bot_api, utc(2026, 11, 27, 12))  # two hours before
    assert len(sent) == 1 and "When: today at 2pm" in sent[0]["text"]


async def test_a_reminder_that_would_arrive_after_the_start_is_dropped_not_sent_late(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    console, person_id = await sam_on_telegram(service, fake_bot_api)
    await set_quiet_hours(service, person_id, "17:00", "10:00")  # quiet until after a 9:30 start
    early = await make(service, console, person_id, "2026-11-27", "09:30", what="Court")

    assert await run_at(service, clock, fake_bot_api, utc(2026, 11, 26, 18)) == []
    assert await run_at(service, clock, fake_bot_api, utc(2026, 11, 27, 7, 30)) == []
    jobs = await reminder_jobs(service, early)
    assert [(job.state, job.outcome) for job in jobs] == [
        (JobState.DROPPED, "quiet hours last until after the start"),
        (JobState.DROPPED, "quiet hours last until after the start"),
    ]

    # The service was down through both reminders of a later appointment: nothing goes after the start.
    console = await service.login("jo")  # the clock moved past Jo's idle session
    later = await make(service, console, person_id, "2026-11-28", "15:00", what="Football")
    assert await run_at(service, clock, fake_bot_api, utc(2026, 11, 28, 15, 30)) == []
    assert {(job.state, job.outcome) for job in await reminder_jobs(service, later)} == {
        (JobState.DROPPED, "appointment already started")
    }
    page = await (await service.login("jo")).get(f"/young-people/{person_id}/appointments")
    assert "not sent: appointment already started" in page.text


async def reminded_on_dashboard(service: Service, day: date) -> float | None:
    """The manager dashboard's count of appointments reminded, for appointments due on that day."""
    async with service.rt.db() as session:
        period = make_period("custom", day, LONDON, day, day)
        board = await compute_dashboard(session, period, Scope(), service.rt.now(), ("appointments",))
    return board.figures()["appointments.reminded"].value


async def test_the_dashboard_counts_an_appointment_reminded_once_a_reminder_is_sent(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    console, person_id = await sam_on_telegram(service, fake_bot_api)
    await set_quiet_hours(service, person_id, "17:00", "10:00")
    early = await make(service, console, person_id, "2026-11-27", "09:30", what="Court")  # quiet until after it starts
    later = await make(service, console, person_id, "2026-11-27", "14:00")  # the evening reminder waits until 10am
    assert await reminded_on_dashboard(service, date(2026, 11, 27)) == 0

    assert await run_at(service, clock, fake_bot_api, utc(2026, 11, 26, 18)) == []
    assert await run_at(service, clock, fake_bot_api, utc(2026, 11, 27, 7, 30)) == []
    assert {job.state for job in await reminder_jobs(service, early)} == {JobState.DROPPED}
    assert await reminded_on_dashboard(service, date(2026, 11, 27)) == 0  # dropped reminders were never sent

    sent = await run_at(service, clock, fake_bot_api, utc(2026, 11, 27, 10))
    assert len(sent) == 1 and "Dentist" in sent[0]["text"]
    assert await reminded_on_dashboard(service, date(2026, 11, 27)) == 1
    async with service.rt.db() as session:
        assert (await session.get(Appointment, later)).reminder_sent
        assert not (await session.get(Appointment, early)).reminder_sent


async def test_after_a_restart_two_overdue_reminders_send_one(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    console, person_id = await sam_on_telegram(service, fake_bot_api)
    appointment_id = await make(service, console, person_id, "2026-11-27", "15:00")
    # Nothing ran from Thursday afternoon until 1:30pm on the day: both reminders are overdue.
    sent = await run_at(service, clock, fake_bot_api, utc(2026, 11, 27, 13, 30))
    assert len(sent) == 1 and "When: today at 3pm" in sent[0]["text"]
    states = sorted((job.state, job.outcome or "") for job in await reminder_jobs(service, appointment_id))
    assert states == [(JobState.DONE, ""), (JobState.DROPPED, "a later reminder is due now")]


async def test_a_cancelled_appointment_is_told_and_sends_no_reminders(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    console, person_id = await sam_on_telegram(service, fake_bot_api)
    appointment_id = await make(service, console, person_id, "2026-11-27", "15:00")
    before = len(fake_bot_api.sent_messages(CHAT))
    response = await console.post(f"/young-people/{person_id}/appointments/{appointment_id}/cancel")
    assert response.status_code == 303
    await service.idle()
    told = fake_bot_api.sent_messages(CHAT)[before:]
    assert len(told) == 1
    assert told[0]["text"] == "Jo has called off a plan for you.\nDentist, on Friday 27 November at 3pm: you do not need to go now."
    assert "reply_markup" not in told[0] or not told[0]["reply_markup"]

    assert await run_at(service, clock, fake_bot_api, utc(2026, 11, 26, 18)) == []
    assert await run_at(service, clock, fake_bot_api, utc(2026, 11, 27, 13)) == []
    assert {job.state for job in await reminder_jobs(service, appointment_id)} == {JobState.CANCELLED}

    text = await press(service, fake_bot_api, f"appt:{appointment_id}:1:yes", purpose="appointment.new")
    assert text == "That plan was called off, so you do not need to go."
    async with service.rt.db() as session:
        assert (await session.get(Appointment, appointment_id)).answer is None


async def test_an_edit_is_told_replans_reminders_and_makes_old_buttons_stale(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    console, person_id = await sam_on_telegram(service, fake_bot_api)
    appointment_id = await make(service, console, person_id, "2026-11-27", "15:00")
    before = len(fake_bot_api.sent_messages(CHAT))
    form = {"what": "Dentist", "day": "2026-11-28", "at": "11:00", "place": "Hill Street Dental", "with_whom": "Dr Patel",
            "notes": "Bring your red card"}
    response = await console.post(f"/young-people/{person_id}/appointments/{appointment_id}", data=form)
    assert response.status_code == 303
    await service.idle()
    told = fake_bot_api.sent_messages(CHAT)[before:]
    assert len(told) == 1
    assert told[0]["text"].startswith("Jo has changed a plan for you.\nThis is the new plan:")
    assert "When: on Saturday 28 November at 11am" in told[0]["text"]
    assert told[0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == f"appt:{appointment_id}:2:yes"

    assert await run_at(service, clock, fake_bot_api, utc(2026, 11, 26, 18)) == []  # the old evening before
    assert await run_at(service, clock, fake_bot_api, utc(2026, 11, 27, 13)) == []  # the old two hours before
    sent = await run_at(service, clock, fake_bot_api, utc(2026, 11, 27, 18))
    assert len(sent) == 1 and "When: tomorrow at 11am" in sent[0]["text"]

    text = await press(service, fake_bot_api, f"appt:{appointment_id}:1:cant", purpose="appointment.new")
    assert text == "That plan has changed since then. Please look at the newest message about it."
    async with service.rt.db() as session:
        assert (await session.get(Appointment, appointment_id)).answer is None
        assert await session.scalar(select(Flag.id)) is None

    sent = await run_at(service, clock, fake_bot_api, utc(2026, 11, 28, 9))
    assert len(sent) == 1 and "When: today at 11am" in sent[0]["text"]


async def test_answers_show_on_the_appointment_and_problems_raise_flags(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    console, person_id = await sam_on_telegram(service, fake_bot_api)
    appointment_id = await make(service, console, person_id, "2026-11-27", "15:00")
    await run_at(service, clock, fake_bot_api, utc(2026, 11, 26, 18))
    console = await service.login("jo")  # the clock moved past Jo's idle session

    async def shown(label: str) -> bool:
        panel = await console.get(f"/young-people/{person_id}/appointments/list")
        return re.search(rf'Sam said:\s*<span class="status (ok|bad)">{re.escape(label)}</span>', panel.text) is not None

    async def flags() -> list[str]:
        async with service.rt.db() as session:
            return sorted((await session.scalars(select(Flag.kind).where(Flag.cleared_at.is_(None)))).all())

    assert await press(service, fake_bot_api, f"appt:{appointment_id}:1:yes") == "Great, thank you! I have told Jo."
    assert await shown("I&#39;ll be there") and await flags() == []

    said = await press(service, fake_bot_api, f"appt:{appointment_id}:1:cant")
    assert said == "Thanks for telling me. I have told Jo.\nJo will get in touch to find a new time."
    assert await shown("I can&#39;t make it") and await flags() == ["appointment_cant"]

    said = await press(service, fake_bot_api, f"appt:{appointment_id}:1:help")
    assert said == "Thanks for telling me. I have told Jo you need help to get there.\nJo will get in touch soon."
    assert await shown("I need help getting there") and await flags() == ["appointment_cant", "appointment_help"]

    caseload = await console.get("/young-people")
    assert "Can&#39;t make an appointment" in caseload.text and "Needs help with an appointment" in caseload.text
    conversation = await console.get(f"/young-people/{person_id}")
    assert 'Tapped: <strong dir="auto">I need help getting there</strong>' in conversation.text


async def test_a_press_after_the_time_is_answered_kindly_and_changes_nothing(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    console, person_id = await sam_on_telegram(service, fake_bot_api)
    appointment_id = await make(service, console, person_id, "2026-11-27", "15:00")
    await run_at(service, clock, fake_bot_api, utc(2026, 11, 27, 13))
    clock.set(utc(2026, 11, 27, 16))
    text = await press(service, fake_bot_api, f"appt:{appointment_id}:1:help")
    assert text == "That plan is over now. If you need anything, just send Jo a message."
    text = await press(service, fake_bot_api, "appt:999:1:yes")  # not an appointment of Sam's
    assert text == "That plan was called off, so you do not need to go."
    async with service.rt.db() as session:
        assert (await session.get(Appointment, appointment_id)).answer is None
        assert await session.scalar(select(Flag.id)) is None


async def test_a_young_person_who_blocked_the_bot(service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock) -> None:
    console, person_id = await sam_on_telegram(service, fake_bot_api)
    fake_bot_api.block_chat(CHAT)
    appointment_id = await make(service, console, person_id, "2026-11-27", "15:00")
    assert await run_at(service, clock, fake_bot_api, utc(2026, 11, 26, 18)) == []
    async with service.rt.db() as session:
        told = (await session.scalars(select(Message).where(Message.purpose.startswith("appointment.")).order_by(Message.id))).all()
    assert [(m.purpose, m.delivery_status) for m in told] == [
        ("appointment.new", "unreachable"),
        ("appointment.reminder", "unreachable"),
    ]
    assert [job.state for job in await reminder_jobs(service, appointment_id)] == [JobState.DONE, JobState.PENDING]
    page = await (await service.login("jo")).get(f"/young-people/{person_id}")
    assert "Unreachable since" in page.text and "Could not reach them" in page.text


def parse_calendar(data: bytes) -> tuple[Calendar, object]:
    calendar = Calendar.from_ical(data)
    events = [c for c in calendar.walk() if c.name == "VEVENT"]
    assert len(events) == 1
    return calendar, events[0]


async def test_the_calendar_file_on_telegram_has_the_right_local_start(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    clock.set(utc(2027, 6, 14, 9))  # summer: 3pm in London is 14:00 UTC
    console, person_id = await sam_on_telegram(service, fake_bot_api)
    appointment_id = await make(service, console, person_id, "2027-06-16", "15:00")
    fake_bot_api.push_callback(CHAT, f"appt:{appointment_id}:1:ics", await telegram_id(service, "appointment.new"))
    await eventually(lambda: fake_bot_api.sent_files(CHAT))
    upload = fake_bot_api.sent_files(CHAT)[0]
    assert upload["method"] == "sendDocument"
    assert upload["filename"] == f"appointment-{appointment_id}.ics"
    assert upload["mime_type"] == "text/calendar"
    assert upload["caption"] == "Here is a file for your calendar. Tap it to add Dentist."

    calendar, event = parse_calendar(upload["data"])
    start = event.decoded("dtstart")
    assert start == datetime(2027, 6, 16, 15, 0, tzinfo=LONDON) and start.utcoffset().total_seconds() == 3600
    assert event["dtstart"].params["TZID"] == "Europe/London"
    assert str(event["summary"]) == "Dentist" and str(event["location"]) == "Hill Street Dental"
    assert "Bring your red card" in str(event["description"])
    assert any(c.name == "VTIMEZONE" and str(c["tzid"]) == "Europe/London" for c in calendar.walk())


async def test_the_calendar_file_in_web_chat_is_a_download_link(service: Service) -> None:
    await service.staff("jo", "Jo")
    console = await service.login("jo")
    person_id, code = await invite_for(console, "Samira Haddad", "Sam")
    chat = await join_webchat(service, code)
    appointment_id = await make(service, console, person_id, "2026-11-27", "15:00")
    async with service.rt.db() as session:
        offered = await session.scalar(select(Message.id).where(Message.purpose == "appointment.new"))

    pressed = await service.client.post(
        f"{chat}/press", data={"message_id": str(offered), "data": f"appt:{appointment_id}:1:ics"}
    )
    assert pressed.status_code == 303
    page = await service.client.get(chat)
    link = re.search(rf'href="({re.escape(chat)}/files/\d+)" download="appointment-{appointment_id}.ics"', page.text)
    assert link, "no download link in the web chat"
    download = await service.client.get(link.group(1))
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/calendar")
    _, event = parse_calendar(download.content)
    assert event.decoded("dtstart") == datetime(2026, 11, 27, 15, 0, tzinfo=LONDON)

    stranger = await service.client.get(f"/c/not-a-token/files/{link.group(1).rsplit('/', 1)[1]}")
    assert stranger.status_code == 404
