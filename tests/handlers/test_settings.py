"""/settings: a young person changes check-in days, time and quiet hours with buttons, and the job follows."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from bot.clock import FrozenClock
from models import CheckInSchedule, Direction, Job, JobState, Message, YoungPerson
from tests.conftest import Service
from tests.fakes.botapi import FakeBotAPI
from tests.handlers.test_checkin import SAM, WAIT, button_data, checkins, press, sam_on_telegram, set_schedule, tick


async def last_bot_message_id(service: Service) -> int:
    """Return the id of the newest message the bot sent (the one whose buttons are tapped next)."""
    async with service.rt.db() as session:
        return await session.scalar(select(func.max(Message.id)).where(Message.direction == Direction.OUTBOUND))


async def pending_checkin_jobs(service: Service) -> list[tuple[str, datetime]]:
    async with service.rt.db() as session:
        rows = await session.execute(
            select(Job.key, Job.due_at).where(Job.kind == "checkin", Job.state == JobState.PENDING)
        )
        return [(key, due) for key, due in rows]


async def open_settings(service: Service, fake_bot_api: FakeBotAPI) -> dict:  # type: ignore[type-arg]
    before = len(fake_bot_api.sent_messages(SAM))
    fake_bot_api.push_command(SAM, "settings")
    sent = await fake_bot_api.wait_for_sent_async(SAM, count=before + 1, timeout=WAIT)
    await service.idle()
    return sent[-1]


async def test_settings_shows_what_is_set_with_buttons(service: Service, fake_bot_api: FakeBotAPI) -> None:
    sam = await sam_on_telegram(service, fake_bot_api)
    await set_schedule(service, sam, ["mon", "thu"], "16:00")
    menu = await open_settings(service, fake_bot_api)
    assert "Check-ins: Monday, Thursday at 4pm" in menu["text"]
    assert "Quiet time: 9:30pm to 8am" in menu["text"]
    assert button_data(menu) == ["settings:menu:days", "settings:menu:time", "settings:menu:quiet", "settings:menu:language"]


async def test_young_person_picks_days_and_time_and_the_next_check_in_moves(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    sam = await sam_on_telegram(service, fake_bot_api)  # Wednesday 25 November, 10:00
    await open_settings(service, fake_bot_api)
    days = await press(service, fake_bot_api, "settings:menu:days", await last_bot_message_id(service))
    assert "Check-ins now: off" in days["text"] and "settings:day:+fri" in button_data(days)

    days = await press(service, fake_bot_api, "settings:day:+fri", await last_bot_message_id(service))
    assert "Check-ins now: Friday at 9am" in days["text"]
    assert "settings:day:-fri" in button_data(days)  # shown ticked, and tapping it takes it off
    assert await pending_checkin_jobs(service) == [(f"checkin:{sam}:2026-11-27", datetime(2026, 11, 27, 9, 0, tzinfo=UTC))]

    # The same old button again sets the same thing: still just Friday, one job.
    await press(service, fake_bot_api, "settings:day:+fri", await last_bot_message_id(service))
    async with service.rt.db() as session:
        assert (await session.get(CheckInSchedule, sam)).days == ["fri"]

    times = await press(service, fake_bot_api, "settings:menu:time", await last_bot_message_id(service))
    assert "What time" in times["text"] and "settings:time:1600" in button_data(times)
    saved = await press(service, fake_bot_api, "settings:time:1600", await last_bot_message_id(service))
    assert "All done" in saved["text"] and "Your next check-in is on Friday at 4pm" in saved["text"]
    assert await pending_checkin_jobs(service) == [(f"checkin:{sam}:2026-11-27", datetime(2026, 11, 27, 16, 0, tzinfo=UTC))]

    clock.set(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
    await tick(service)
    assert await checkins(service, sam) == []
    clock.set(datetime(2026, 11, 27, 16, 0, tzinfo=UTC))
    await tick(service)
    assert len(await checkins(service, sam)) == 1
    assert await pending_checkin_jobs(service) == [(f"checkin:{sam}:2026-12-04", datetime(2026, 12, 4, 16, 0, tzinfo=UTC))]

    # "No check-ins" turns them off: no job left.
    await press(service, fake_bot_api, "settings:days:none", await last_bot_message_id(service))
    assert await pending_checkin_jobs(service) == []


async def test_young_person_sets_quiet_hours(service: Service, fake_bot_api: FakeBotAPI) -> None:
    sam = await sam_on_telegram(service, fake_bot_api)
    await open_settings(service, fake_bot_api)
    start = await press(service, fake_bot_api, "settings:menu:quiet", await last_bot_message_id(service))
    assert "When should quiet time start" in start["text"] and "settings:qstart:2200" in button_data(start)
    end = await press(service, fake_bot_api, "settings:qstart:2200", await last_bot_message_id(service))
    assert "starts at 10pm" in end["text"] and "settings:qend:0700" in button_data(end)
    done = await press(service, fake_bot_api, "settings:qend:0700", await last_bot_message_id(service))
    assert "Quiet time is now 10pm to 7am" in done["text"]
    async with service.rt.db() as session:
        young_person = await session.get(YoungPerson, sam)
    assert (young_person.quiet_start, young_person.quiet_end) == ("22:00", "07:00")


async def test_a_made_up_settings_button_changes_nothing(service: Service, fake_bot_api: FakeBotAPI) -> None:
    sam = await sam_on_telegram(service, fake_bot_api)
    await open_settings(service, fake_bot_api)
    before = len(fake_bot_api.sent_messages(SAM))
    fake_bot_api.push_callback(SAM, "settings:time:0300", 1)
    sent = await fake_bot_api.wait_for_sent_async(SAM, count=before + 2, timeout=WAIT)
    assert "that button is old" in sent[before]["text"]
    assert "Your settings" in sent[before + 1]["text"]
    async with service.rt.db() as session:
        assert await session.get(CheckInSchedule, sam) is None


async def test_young_person_switches_to_arabic_and_the_bot_and_the_help_button_follow(
    service: Service, fake_bot_api: FakeBotAPI
) -> None:
    sam = await sam_on_telegram(service, fake_bot_api)
    await open_settings(service, fake_bot_api)
    pick = await press(service, fake_bot_api, "settings:menu:language", await last_bot_message_id(service))
    assert "Which language" in pick["text"]
    assert [b["text"] for row in pick["reply_markup"]["inline_keyboard"] for b in row] == ["العربية", "English"]
    saved = await press(service, fake_bot_api, "settings:lang:ar", await last_bot_message_id(service))
    assert "بالعربية" in saved["text"]
    assert saved["reply_markup"]["keyboard"][0][0]["text"] == "أنا لست بخير"  # the help button, now in Arabic
    async with service.rt.db() as session:
        assert (await session.get(YoungPerson, sam)).language == "ar"
    menu = await open_settings(service, fake_bot_api)
    assert "إعدادات" in menu["text"]  # /settings now answers in Arabic

    # The English "I'm not OK" button from before the change still brings help at once.
    before = len(fake_bot_api.sent_messages(SAM))
    fake_bot_api.push_text(SAM, service.rt.content.text("crisis.not_ok_button", "en"))
    sent = await fake_bot_api.wait_for_sent_async(SAM, count=before + 2, timeout=WAIT)
    assert "116 123" in " ".join(m["text"] for m in sent[before:])
