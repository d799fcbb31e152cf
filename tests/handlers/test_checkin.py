"""Check-ins: sent on schedule at local time, answered by button or in words, nudged once, missed, flagged."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from bot.clock import FrozenClock
from bot.services.settings import do_set_checkin_schedule
from models import ChannelLink, CheckIn, DeliveryStatus, Flag, Job, JobState, Message, YoungPerson
from tests.conftest import Service, sam_joins_on_telegram
from tests.fakes.botapi import FakeBotAPI

SAM = 7770001
# Generous: sends to one chat are paced at one a second, and CI machines are busy.
WAIT = 20.0
EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


async def sam_on_telegram(service: Service, fake_bot_api: FakeBotAPI) -> int:
    """Jo invites Sam, who links Telegram; return Sam's id once the welcome is delivered."""
    console, person_id, _ = await sam_joins_on_telegram(service, fake_bot_api, SAM)
    await console.aclose()
    return person_id


async def set_schedule(service: Service, person_id: int, days: list[str], at: str = "09:00") -> None:
    async with service.rt.db() as session:
        young_person = await session.get(YoungPerson, person_id)
        await do_set_checkin_schedule(session, service.rt.now(), young_person, service.rt.settings.tz, days=days, local_time=at)
        await session.commit()


async def tick(service: Service) -> int:
    """Run every job due now and wait until what they queued is delivered."""
    ran = await service.rt.scheduler.tick()
    await service.idle()
    return ran


async def checkins(service: Service, person_id: int) -> list[CheckIn]:
    async with service.rt.db() as session:
        return list(await session.scalars(select(CheckIn).where(CheckIn.young_person_id == person_id).order_by(CheckIn.id)))


async def open_flags(service: Service, person_id: int) -> list[str]:
    async with service.rt.db() as session:
        rows = await session.scalars(select(Flag.kind).where(Flag.young_person_id == person_id, Flag.cleared_at.is_(None)))
        return sorted(rows)


async def telegram_id(service: Service, message_id: int | None) -> int:
    """Return the Telegram message_id of one of the bot's stored messages."""
    async with service.rt.db() as session:
        message = await session.get(Message, message_id)
        assert message is not None and message.external_id, f"message {message_id} was not delivered"
        return int(message.external_id)


async def press(service: Service, fake_bot_api: FakeBotAPI, data: str, on: int | None) -> dict[str, Any]:
    """Tap a button on one of the bot's messages and return the bot's answer."""
    before = len(fake_bot_api.sent_messages(SAM))
    fake_bot_api.push_callback(SAM, data, await telegram_id(service, on))
    sent = await fake_bot_api.wait_for_sent_async(SAM, count=before + 1, timeout=WAIT)
    await service.idle()
    return sent[before]


async def say(service: Service, fake_bot_api: FakeBotAPI, text: str) -> dict[str, Any]:
    before = len(fake_bot_api.sent_messages(SAM))
    fake_bot_api.push_text(SAM, text)
    sent = await fake_bot_api.wait_for_sent_async(SAM, count=before + 1, timeout=WAIT)
    await service.idle()
    return sent[before]


def button_data(message: dict[str, Any]) -> list[str]:
    return [b["callback_data"] for row in message["reply_markup"]["inline_keyboard"] for b in row]


async def test_a_9am_check_in_comes_at_9am_on_both_sides_of_each_clock_change(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    sam = await sam_on_telegram(service, fake_bot_api)
    clock.set(datetime(2027, 3, 27, 8, 30, tzinfo=UTC))  # Saturday: Greenwich time, 08:30 in London
    await set_schedule(service, sam, EVERY_DAY, "09:00")

    clock.set(datetime(2027, 3, 27, 9, 0, tzinfo=UTC))  # 09:00 GMT
    await tick(service)
    assert len(await checkins(service, sam)) == 1
    question = fake_bot_api.sent_messages(SAM)[-1]
    assert "Time for a check-in" in question["text"] and "Jo will see your answer" in question["text"]
    labels = [b["text"] for row in question["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["😄 Great", "🙂 Good", "😐 OK", "🙁 Not good", "😢 Bad", "💬 I want to talk to Jo", "🌟 I've got good news"]

    clock.set(datetime(2027, 3, 28, 7, 59, tzinfo=UTC))  # Sunday, clocks went forward: 08:59 BST
    await tick(service)
    assert len(await checkins(service, sam)) == 1
    clock.set(datetime(2027, 3, 28, 8, 0, tzinfo=UTC))  # 09:00 BST
    await tick(service)
    assert len(await checkins(service, sam)) == 2

    # Months later (the service was off): the March job is stale, so it is dropped, not sent late.
    clock.set(datetime(2027, 10, 30, 7, 59, tzinfo=UTC))
    await tick(service)
    assert len(await checkins(service, sam)) == 2
    clock.set(datetime(2027, 10, 30, 8, 0, tzinfo=UTC))  # Saturday 09:00 BST
    await tick(service)
    assert len(await checkins(service, sam)) == 3
    clock.set(datetime(2027, 10, 31, 8, 0, tzinfo=UTC))  # Sunday, clocks went back: 08:00 GMT
    await tick(service)
    assert len(await checkins(service, sam)) == 3
    clock.set(datetime(2027, 10, 31, 9, 0, tzinfo=UTC))  # 09:00 GMT
    await tick(service)
    sent = [c.sent_at for c in await checkins(service, sam)]
    assert [s.astimezone(service.rt.settings.tz).strftime("%H:%M") for s in sent] == ["09:00"] * 4

    async with service.rt.db() as session:
        pending = list(await session.scalars(select(Job.key).where(Job.kind == "checkin", Job.state == JobState.PENDING)))
    assert pending == [f"checkin:{sam}:2027-11-01"]  # exactly one next check-in


async def test_quiet_hours_hold_an_early_check_in_until_they_end(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    sam = await sam_on_telegram(service, fake_bot_api)
    await set_schedule(service, sam, ["thu"], "07:00")  # before quiet hours end at 08:00
    clock.set(datetime(2026, 11, 26, 7, 0, tzinfo=UTC))
    await tick(service)
    assert await checkins(service, sam) == []
    assert len(fake_bot_api.sent_messages(SAM)) == 2
    clock.set(datetime(2026, 11, 26, 8, 0, tzinfo=UTC))
    await tick(service)
    assert len(await checkins(service, sam)) == 1
    assert "Time for a check-in" in fake_bot_api.sent_texts(SAM)[-1]


async def scheduled_checkin(service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock) -> tuple[int, CheckIn]:
    """Link Sam and send Thursday's 09:00 check-in."""
    sam = await sam_on_telegram(service, fake_bot_api)
    await set_schedule(service, sam, ["thu"])
    clock.set(datetime(2026, 11, 26, 9, 0, tzinfo=UTC))
    await tick(service)
    [checkin] = await checkins(service, sam)
    return sam, checkin


async def test_a_button_answers_and_a_second_press_changes_nothing(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    sam, checkin = await scheduled_checkin(service, fake_bot_api, clock)
    clock.advance(minutes=5)
    reply = await press(service, fake_bot_api, f"checkin:{checkin.id}:m4", checkin.message_id)
    assert "great to hear" in reply["text"] and "Jo" in reply["text"]
    [answered] = await checkins(service, sam)
    assert answered.mood == 4 and answered.answer == "mood" and answered.answered_at == clock.now()

    clock.advance(minutes=5)
    again = await press(service, fake_bot_api, f"checkin:{checkin.id}:m1", checkin.message_id)
    assert "already have your answer" in again["text"]
    [unchanged] = await checkins(service, sam)
    assert unchanged.mood == 4 and unchanged.answered_at == answered.answered_at
    assert await open_flags(service, sam) == []


async def test_an_old_check_in_button_is_kindly_refused(service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock) -> None:
    sam, old = await scheduled_checkin(service, fake_bot_api, clock)
    fake_bot_api.push_command(SAM, "checkin")
    await fake_bot_api.wait_for_sent_async(SAM, count=4, timeout=WAIT)
    await service.idle()
    reply = await press(service, fake_bot_api, f"checkin:{old.id}:m5", old.message_id)
    assert "That check-in is over" in reply["text"]
    first, newer = await checkins(service, sam)
    assert first.answered_at is None and newer.answered_at is None and newer.source == "asked"
    garbled = await press(service, fake_bot_api, "checkin:999999:m5", old.message_id)
    assert "That check-in is over" in garbled["text"]


async def test_a_low_answer_then_yes_puts_a_flag_on_the_caseload(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    sam, checkin = await scheduled_checkin(service, fake_bot_api, clock)
    question = await press(service, fake_bot_api, f"checkin:{checkin.id}:m2", checkin.message_id)
    assert "sorry things are hard" in question["text"] and "Do you want Jo to get in touch" in question["text"]
    assert button_data(question) == [f"checkin:{checkin.id}:yes", f"checkin:{checkin.id}:no"]
    async with service.rt.db() as session:
        asked = await session.scalar(select(Message.id).where(Message.purpose == "checkin.low"))
    reply = await press(service, fake_bot_api, f"checkin:{checkin.id}:yes", asked)
    assert "I have told Jo" in reply["text"] and "999" in reply["text"]
    assert await open_flags(service, sam) == ["wants_contact"]
    [answered] = await checkins(service, sam)
    assert answered.mood == 2 and answered.wants_contact is True

    again = await press(service, fake_bot_api, f"checkin:{checkin.id}:no", asked)
    assert "already have your answer" in again["text"]
    console = await service.login("jo")
    caseload = await console.get("/young-people")
    assert "Wants you to get in touch" in caseload.text


async def test_i_want_to_talk_raises_the_flag_at_once(service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock) -> None:
    sam, checkin = await scheduled_checkin(service, fake_bot_api, clock)
    reply = await press(service, fake_bot_api, f"checkin:{checkin.id}:talk", checkin.message_id)
    assert "I have told Jo you want to talk" in reply["text"]
    assert await open_flags(service, sam) == ["wants_contact"]


async def test_free_text_answers_a_waiting_check_in(service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock) -> None:
    sam, checkin = await scheduled_checkin(service, fake_bot_api, clock)
    reply = await say(service, fake_bot_api, "bit tired but college was fine")
    assert "I have passed it on to Jo" in reply["text"]
    [answered] = await checkins(service, sam)
    assert answered.answer == "text" and answered.answered_at is not None and answered.mood is None
    async with service.rt.db() as session:
        words = await session.get(Message, answered.answer_message_id)
    assert words.body == "bit tired but college was fine"

    # Answered: the next message is an ordinary message to Jo, not another answer.
    before = len(fake_bot_api.sent_messages(SAM))
    fake_bot_api.push_text(SAM, "see you friday")
    await service.until_stored("see you friday")
    await service.idle()
    assert len(fake_bot_api.sent_messages(SAM)) == before  # in working hours: no automatic reply


async def test_good_news_goes_to_the_worker_marked_as_good_news(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    sam, checkin = await scheduled_checkin(service, fake_bot_api, clock)
    ask = await press(service, fake_bot_api, f"checkin:{checkin.id}:news", checkin.message_id)
    assert "What is your good news" in ask["text"]
    thanks = await say(service, fake_bot_api, "I passed my theory test!!")
    assert "brilliant" in thanks["text"] and "Jo" in thanks["text"]
    [answered] = await checkins(service, sam)
    assert answered.answer == "good_news"
    async with service.rt.db() as session:
        news = await session.get(Message, answered.answer_message_id)
    assert news.body == "I passed my theory test!!" and news.meta["good_news"] is True

    console = await service.login("jo")
    panel = await console.get(f"/young-people/{sam}/checkins/panel")
    assert "Good news" in panel.text and "I passed my theory test!!" in panel.text


async def test_no_answer_gets_one_nudge_only(service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock) -> None:
    sam, checkin = await scheduled_checkin(service, fake_bot_api, clock)
    count = len(fake_bot_api.sent_messages(SAM))
    clock.set(datetime(2026, 11, 26, 11, 0, tzinfo=UTC))
    await tick(service)
    sent = fake_bot_api.sent_messages(SAM)
    assert len(sent) == count + 1 and "Just checking in again" in sent[-1]["text"]
    assert f"checkin:{checkin.id}:m3" in button_data(sent[-1])
    for hour in (13, 15, 17, 20):
        clock.set(datetime(2026, 11, 26, hour, 0, tzinfo=UTC))
        await tick(service)
    assert len(fake_bot_api.sent_messages(SAM)) == count + 1
    # The nudge's buttons answer the same check-in.
    reply = await press(service, fake_bot_api, f"checkin:{checkin.id}:m3", checkin.message_id)
    assert "Thanks for telling me" in reply["text"]


async def test_an_evening_check_in_is_not_nudged_at_night_or_next_morning(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    sam = await sam_on_telegram(service, fake_bot_api)
    await set_schedule(service, sam, ["thu"], "20:00")
    clock.set(datetime(2026, 11, 26, 20, 0, tzinfo=UTC))
    await tick(service)
    count = len(fake_bot_api.sent_messages(SAM))
    for moment in ((26, 22, 0), (27, 8, 0), (27, 9, 0)):
        clock.set(datetime(2026, 11, *moment, tzinfo=UTC))
        await tick(service)
    assert len(fake_bot_api.sent_messages(SAM)) == count
    [missed] = await checkins(service, sam)
    assert missed.missed and missed.nudged_at is None


async def test_three_missed_in_a_row_flag_not_heard_from_and_an_answer_clears_it(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    sam = await sam_on_telegram(service, fake_bot_api)
    await set_schedule(service, sam, EVERY_DAY)
    for day in (26, 27, 28):
        assert await open_flags(service, sam) == []
        clock.set(datetime(2026, 11, day, 9, 0, tzinfo=UTC))
        await tick(service)
        clock.set(datetime(2026, 11, day, 21, 0, tzinfo=UTC))
        await tick(service)  # the follow-up (due at 11:00) finds the check-in unanswered at its deadline
    missed = await checkins(service, sam)
    assert [c.missed for c in missed] == [True, True, True]
    assert all(c.missed_at is not None for c in missed)
    assert await open_flags(service, sam) == ["not_heard_from"]
    console = await service.login("jo")
    assert "Not heard from" in (await console.get("/young-people")).text
    # Jo's dashboard counts Sam once among young people with 3+ missed in a row (the third was judged when missed).
    figures = {f["key"]: f for f in (await console.get("/api/v1/indicators?period=week")).json()["indicators"]}
    assert figures["checkins.missed"]["value"] == 3
    assert figures["checkins.missed_3_in_a_row"]["value"] == 1

    clock.set(datetime(2026, 11, 29, 9, 0, tzinfo=UTC))
    await tick(service)
    latest = (await checkins(service, sam))[-1]
    await press(service, fake_bot_api, f"checkin:{latest.id}:m4", latest.message_id)
    assert await open_flags(service, sam) == []


async def test_a_young_person_who_blocked_the_bot_still_gets_a_recorded_check_in(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    sam = await sam_on_telegram(service, fake_bot_api)
    await set_schedule(service, sam, ["thu"])
    fake_bot_api.block_chat(SAM)
    clock.set(datetime(2026, 11, 26, 9, 0, tzinfo=UTC))
    assert await tick(service) == 1
    [checkin] = await checkins(service, sam)
    async with service.rt.db() as session:
        message = await session.get(Message, checkin.message_id)
        link = await session.scalar(select(ChannelLink).where(ChannelLink.young_person_id == sam))
        job = await session.scalar(select(Job).where(Job.key == f"checkin:{sam}:2026-11-26"))
    assert message.delivery_status == DeliveryStatus.UNREACHABLE
    assert link.status == "unreachable"
    assert job.state == JobState.DONE
    clock.set(datetime(2026, 11, 26, 21, 0, tzinfo=UTC))
    await tick(service)  # the nudge and the miss run without crashing
    [missed] = await checkins(service, sam)
    assert missed.missed


async def test_checkin_command_and_the_welcome_button_start_a_check_in(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    sam = await sam_on_telegram(service, fake_bot_api)
    welcome = fake_bot_api.sent_messages(SAM)[0]
    assert button_data(welcome) == ["checkin:first"]
    async with service.rt.db() as session:
        welcome_id = await session.scalar(select(Message.id).where(Message.purpose == "start.welcome"))
    question = await press(service, fake_bot_api, "checkin:first", welcome_id)
    assert "Time for a check-in" in question["text"]
    again = await press(service, fake_bot_api, "checkin:first", welcome_id)
    assert "just above" in again["text"]
    assert len(await checkins(service, sam)) == 1

    before = len(fake_bot_api.sent_messages(SAM))
    fake_bot_api.push_command(SAM, "checkin")
    sent = await fake_bot_api.wait_for_sent_async(SAM, count=before + 1, timeout=WAIT)
    assert "Time for a check-in" in sent[-1]["text"]
    await service.idle()
    first, second = await checkins(service, sam)
    assert first.source == second.source == "asked"


async def test_the_command_menu_is_set_at_start_from_content(service: Service, fake_bot_api: FakeBotAPI) -> None:
    menus = {call["params"].get("language_code") or "en": call["params"]["commands"] for call in fake_bot_api.calls("setMyCommands")}
    english = json.loads(menus["en"]) if isinstance(menus["en"], str) else menus["en"]
    assert [c["command"] for c in english] == ["start", "checkin", "wellbeing", "settings", "help", "cancel"]
    content = service.rt.content
    assert [c["description"] for c in english] == [content.text(f"commands.{c['command']}") for c in english]
    for language in set(content.languages) - {"en"}:
        assert language in menus, f"no command menu in {language}"
