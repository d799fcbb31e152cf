"""Missing from care: gentle messages at any hour, any reply alerts people at once, times recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.clock import FrozenClock
from models import Alert, MissingEpisode, StaffRole
from tests.conftest import Service
from tests.fakes.botapi import FakeBotAPI
from tests.handlers.test_crisis import SAM, sam_on_telegram


async def episode(service: Service) -> MissingEpisode:
    async with service.rt.db() as session:
        return (await session.scalars(select(MissingEpisode))).one()


async def test_missing_young_person_is_asked_gently_and_a_reply_alerts_at_once(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    console, person_id = await sam_on_telegram(service, fake_bot_api)
    await service.staff("priya", "Priya", StaffRole.MANAGER)
    clock.set(datetime(2026, 11, 25, 22, 30, tzinfo=UTC))  # at night: quiet hours do not apply here
    console = await service.login("jo")
    marked = await console.post(f"/young-people/{person_id}/missing", data={"note": "Did not come home"})
    assert marked.status_code == 303
    sent = await fake_bot_api.wait_for_sent_async(SAM, count=3)
    ask = sent[2]
    assert "We just want to know you are safe" in ask["text"]
    button = ask["reply_markup"]["inline_keyboard"][0][0]
    assert button["text"] == "I'm safe"
    assert "Missing from care" in (await console.get("/young-people")).text

    clock.advance(minutes=59)
    await service.rt.scheduler.tick()
    assert len(fake_bot_api.sent_messages(SAM)) == 3
    clock.advance(minutes=1)
    await service.rt.scheduler.tick()
    await fake_bot_api.wait_for_sent_async(SAM, count=4)  # one hour on, at 23:30, the second message

    clock.advance(minutes=20)
    fake_bot_api.push_callback(SAM, button["callback_data"], ask["message_id"] if "message_id" in ask else 3)
    thanks = (await fake_bot_api.wait_for_sent_async(SAM, count=5))[4]["text"]
    assert "Jo will be in touch" in thanks
    found = await episode(service)
    assert found.first_contact_at == datetime(2026, 11, 25, 23, 50, tzinfo=UTC)
    async with service.rt.db() as session:
        alert = (await session.scalars(select(Alert))).one()
    assert alert.source == "missing_reply" and alert.categories == ["missing"]
    await service.rt.scheduler.tick()  # the duty rota and managers hear at once, not in 15 minutes
    async with service.rt.db() as session:
        assert (await session.get(Alert, alert.id)).escalations == 1
    manager = await service.login("priya")
    assert "Sam" in (await manager.get("/alerts/banner")).text

    clock.advance(hours=24)
    await service.rt.scheduler.tick()
    assert len(fake_bot_api.sent_messages(SAM)) == 5  # no more "are you safe?" once they were in touch

    console = await service.login("jo")
    await console.post(f"/young-people/{person_id}/missing/end", data={"note": "Home with carers"})
    ended = await episode(service)
    assert ended.ended_at == datetime(2026, 11, 26, 23, 50, tzinfo=UTC) and ended.messages_sent == 2
    assert "Missing from care" not in (await console.get("/young-people")).text


async def test_ending_an_episode_stops_the_messages(service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock) -> None:
    console, person_id = await sam_on_telegram(service, fake_bot_api)
    await console.post(f"/young-people/{person_id}/missing", data={"note": ""})
    await fake_bot_api.wait_for_sent_async(SAM, count=3)
    twice = await console.post(f"/young-people/{person_id}/missing", data={"note": ""})
    assert twice.status_code == 409
    await console.post(f"/young-people/{person_id}/missing/end", data={"note": "Found at a friend's"})
    clock.advance(hours=2)
    await service.rt.scheduler.tick()
    await service.idle()
    assert len(fake_bot_api.sent_messages(SAM)) == 3
    assert (await episode(service)).first_contact_at is None
    console = await service.login("jo")
    panel = await console.get(f"/young-people/{person_id}/missing/panel")
    assert "Earlier episodes" in panel.text


def test_the_gentle_schedule() -> None:
    from bot.services.missing import delay_after

    assert [delay_after(n) for n in range(7)] == [
        timedelta(0), timedelta(hours=1), timedelta(hours=3), timedelta(hours=6),
        timedelta(hours=12), timedelta(hours=36), timedelta(hours=60),
    ]
