"""Messages outside working hours get one automatic answer saying when the worker is back."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.clock import FrozenClock
from tests.conftest import Service, sam_joins_on_telegram
from tests.fakes.botapi import FakeBotAPI

CHAT = 4440001


async def linked_sam(service: Service, fake_bot_api: FakeBotAPI) -> int:
    _, person_id, _ = await sam_joins_on_telegram(service, fake_bot_api, CHAT)
    return person_id


async def test_evening_message_gets_one_out_of_hours_answer(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    await linked_sam(service, fake_bot_api)
    clock.set(datetime(2026, 11, 25, 19, 30, tzinfo=UTC))  # Wednesday evening
    fake_bot_api.push_text(CHAT, "are you there")
    sent = await fake_bot_api.wait_for_sent_async(CHAT, count=3)
    answer = sent[2]["text"]
    assert "Jo is not at work right now" in answer
    assert "tomorrow at 9am" in answer
    assert "999" in answer and "0800 1111" in answer and "0300 123 4567" in answer

    fake_bot_api.push_text(CHAT, "ok")
    fake_bot_api.push_text(CHAT, "night")
    await service.until_stored("night")
    await service.idle()
    assert len(fake_bot_api.sent_messages(CHAT)) == 3  # no answer per message

    clock.set(datetime(2026, 11, 27, 18, 0, tzinfo=UTC))  # Friday evening: a new stretch off
    fake_bot_api.push_text(CHAT, "have a good weekend")
    sent = await fake_bot_api.wait_for_sent_async(CHAT, count=4)
    assert "on Monday at 9am" in sent[3]["text"]


async def test_message_in_working_hours_gets_no_automatic_answer(service: Service, fake_bot_api: FakeBotAPI) -> None:
    person_id = await linked_sam(service, fake_bot_api)
    fake_bot_api.push_text(CHAT, "hi jo")
    await service.until_stored("hi jo")
    await service.idle()
    assert len(fake_bot_api.sent_messages(CHAT)) == 2  # only the welcome and the privacy note


async def test_a_workers_reply_at_night_goes_at_once_without_a_sound(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    person_id = await linked_sam(service, fake_bot_api)
    clock.set(datetime(2026, 11, 25, 23, 15, tzinfo=UTC))  # inside Sam's quiet hours (21:30-08:00)
    console = await service.login("jo")
    await console.post(f"/young-people/{person_id}/messages", data={"body": "Saw your message, we'll talk tomorrow"})
    sent = (await fake_bot_api.wait_for_sent_async(CHAT, count=3))[2]
    assert sent["text"].endswith("Saw your message, we'll talk tomorrow")
    assert sent.get("disable_notification") is True

    clock.set(datetime(2026, 11, 26, 10, 0, tzinfo=UTC))
    console = await service.login("jo")
    await console.post(f"/young-people/{person_id}/messages", data={"body": "Morning Sam"})
    sent = (await fake_bot_api.wait_for_sent_async(CHAT, count=4))[3]
    assert not sent.get("disable_notification")
