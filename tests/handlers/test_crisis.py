"""Crisis: help at once whatever the hour, an alert a person must pick up, escalation until they do."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
from sqlalchemy import select

from bot.clock import FrozenClock
from bot.services.staff_link import make_code
from models import Alert, AlertAction, Flag, Message, StaffRole
from tests.conftest import Service, sam_joins_on_telegram
from tests.fakes.botapi import FakeBotAPI

SAM = 6660001


async def sam_on_telegram(service: Service, fake_bot_api: FakeBotAPI) -> tuple[httpx.AsyncClient, int]:
    console, person_id, _ = await sam_joins_on_telegram(service, fake_bot_api, SAM)
    return console, person_id


async def alerts(service: Service) -> list[Alert]:
    async with service.rt.db() as session:
        return list((await session.scalars(select(Alert).order_by(Alert.id))).all())


async def test_urgent_message_at_night_gets_help_at_once_and_alerts_the_worker(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    console, person_id = await sam_on_telegram(service, fake_bot_api)
    clock.set(datetime(2026, 11, 25, 23, 40, tzinfo=UTC))  # deep inside quiet hours
    fake_bot_api.push_text(SAM, "i cant do this anymore i want to kms")
    sent = await fake_bot_api.wait_for_sent_async(SAM, count=4)
    assert "I have told Jo now" in sent[2]["text"]
    helplines = sent[3]["text"]
    for number in ("999", "0800 1111", "85258", "116 123", "0300 123 4567"):
        assert number in helplines

    [alert] = await alerts(service)
    assert alert.level == "urgent" and "suicide" in alert.categories and alert.acknowledged_at is None
    console = await service.login("jo")  # Jo's day session timed out hours ago: she signs in again
    banner = await console.get("/alerts/banner")
    assert "Sam" in banner.text and f"/alerts/{alert.id}" in banner.text
    page = await console.get(f"/alerts/{alert.id}")
    assert "i cant do this anymore i want to kms" in page.text  # the message that raised it
    caseload = await console.get("/young-people")
    assert "Urgent alert, not picked up" in caseload.text  # at the top of her caseload, with why


async def test_not_ok_button_and_help_give_the_safety_plan_first(service: Service, fake_bot_api: FakeBotAPI) -> None:
    console, person_id = await sam_on_telegram(service, fake_bot_api)
    privacy = fake_bot_api.sent_messages(SAM)[1]
    keyboard = privacy["reply_markup"]
    assert keyboard["keyboard"][0][0]["text"] == "I'm not OK" and keyboard["is_persistent"] is True

    saved = await console.post(
        f"/young-people/{person_id}/safety-plan",
        data={"warning_signs": "I stop eating", "things_that_help": "Music, walking the dog",
              "people_and_places": "Nan's house", "who_to_call": "Nan 07700 900123"},
    )
    assert saved.status_code == 303

    fake_bot_api.push_text(SAM, "I’m not OK")  # the keyboard button, with a curly apostrophe
    sent = await fake_bot_api.wait_for_sent_async(SAM, count=5)
    assert "Here is your safety plan" in sent[3]["text"] and "Walking the dog".lower() in sent[3]["text"].lower()
    assert "0800 1111" in sent[4]["text"]

    fake_bot_api.push_command(SAM, "help")
    await fake_bot_api.wait_for_sent_async(SAM, count=8)
    [alert] = await alerts(service)  # the second request joins the alert still waiting
    assert alert.source == "not_ok"
    async with service.rt.db() as session:
        kinds = (await session.scalars(select(AlertAction.kind).where(AlertAction.alert_id == alert.id))).all()
    assert kinds == ["raised", "again"]


async def test_unacknowledged_alert_escalates_until_someone_picks_it_up(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    console, person_id = await sam_on_telegram(service, fake_bot_api)
    await service.staff("priya", "Priya", StaffRole.MANAGER)
    await service.staff("ali", "Ali")
    manager = await service.login("priya")
    fake_bot_api.push_text(SAM, "he is hitting me right now im scared")
    await fake_bot_api.wait_for_sent_async(SAM, count=4)
    [alert] = await alerts(service)
    assert (await manager.get(f"/alerts/{alert.id}")).status_code == 404  # not hers until it escalates

    clock.advance(minutes=14)
    await service.rt.scheduler.tick()
    assert (await alerts(service))[0].escalations == 0
    clock.advance(minutes=1)
    await service.rt.scheduler.tick()
    assert (await alerts(service))[0].escalations == 1
    assert "Sam" in (await manager.get("/alerts/banner")).text
    clock.advance(minutes=15)
    await service.rt.scheduler.tick()
    assert (await alerts(service))[0].escalations == 2  # it repeats until acknowledged

    picked = await manager.post(f"/alerts/{alert.id}/acknowledge")
    assert picked.status_code == 303
    clock.advance(minutes=30)
    await service.rt.scheduler.tick()
    alert = (await alerts(service))[0]
    assert alert.escalations == 2 and alert.acknowledged_at == datetime(2026, 11, 25, 10, 30, tzinfo=UTC)

    ali = await service.login("ali")
    assert (await ali.get(f"/alerts/{alert.id}")).status_code == 404  # not on duty, not a manager


async def test_actions_and_closing_are_recorded_with_times(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    console, person_id = await sam_on_telegram(service, fake_bot_api)
    fake_bot_api.push_text(SAM, "ive taken loads of pills")
    await fake_bot_api.wait_for_sent_async(SAM, count=4)
    [alert] = await alerts(service)
    clock.advance(minutes=4)
    await console.post(f"/alerts/{alert.id}/actions", data={"note": "Called Sam, ambulance on the way"})
    refused = await console.post(f"/alerts/{alert.id}/actions", data={"note": "  ", "close": "1"})
    assert refused.status_code == 400
    clock.advance(hours=2)
    console = await service.login("jo")  # signed in again after two hours away from the console
    await console.post(f"/alerts/{alert.id}/actions", data={"note": "Sam safe in hospital", "close": "1"})
    page = await console.get(f"/alerts/{alert.id}")
    assert "Called Sam, ambulance on the way" in page.text and "Closed" in page.text
    alert = (await alerts(service))[0]
    assert alert.acknowledged_at == datetime(2026, 11, 25, 10, 4, tzinfo=UTC)
    assert alert.closed_at == datetime(2026, 11, 25, 12, 4, tzinfo=UTC)
    async with service.rt.db() as session:
        open_flags = (await session.scalars(select(Flag).where(Flag.cleared_at.is_(None)))).all()
    assert open_flags == []
    assert "No alerts" in (await console.get("/alerts")).text


async def test_a_concern_is_flagged_without_a_helpline_blast(service: Service, fake_bot_api: FakeBotAPI) -> None:
    console, person_id = await sam_on_telegram(service, fake_bot_api)
    fake_bot_api.push_text(SAM, "nobody cares about me tbh")
    await service.until_stored("nobody cares about me tbh")
    await service.idle()
    assert len(fake_bot_api.sent_messages(SAM)) == 2  # nothing beyond the welcome
    caseload = await console.get("/young-people")
    assert "Safeguarding concern" in caseload.text
    assert await alerts(service) == []


async def test_alert_fires_when_the_young_persons_channel_is_blocked(service: Service, fake_bot_api: FakeBotAPI) -> None:
    console, person_id = await sam_on_telegram(service, fake_bot_api)
    fake_bot_api.block_chat(SAM)
    fake_bot_api.push_text(SAM, "i want to die")
    await service.until_stored("i want to die")
    await service.idle()
    [alert] = await alerts(service)
    assert alert.level == "urgent"
    assert "Sam" in (await console.get("/alerts/banner")).text
    async with service.rt.db() as session:
        statuses = (await session.scalars(select(Message.delivery_status).where(Message.purpose == "helplines"))).all()
    assert statuses == ["unreachable"]


async def test_worker_gets_a_notice_on_their_own_telegram_with_no_words_in_it(
    service: Service, fake_bot_api: FakeBotAPI
) -> None:
    console, person_id = await sam_on_telegram(service, fake_bot_api)
    link_page = await console.get("/account/telegram")
    code = re.search(r"start=(s[\w-]+)", link_page.text).group(1)
    fake_bot_api.push_command(777, "start", code)
    assert "Alert notices will come here" in (await fake_bot_api.wait_for_sent_async(777))[0]["text"]

    fake_bot_api.push_text(SAM, "im going to end it tonight")
    await fake_bot_api.wait_for_sent_async(SAM, count=4)
    await service.rt.scheduler.tick()
    notice = (await fake_bot_api.wait_for_sent_async(777, count=2))[1]["text"]
    [alert] = await alerts(service)
    assert f"#{alert.id}" in notice and f"/alerts/{alert.id}" in notice
    assert "end it" not in notice and "Sam" not in notice


async def test_forged_staff_link_is_refused(service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock) -> None:
    jo = await service.staff("jo", "Jo")
    forged = make_code("not-the-secret", jo.id, clock.now())
    fake_bot_api.push_command(778, "start", forged)
    assert "does not work" in (await fake_bot_api.wait_for_sent_async(778))[0]["text"]


async def test_a_stranger_in_danger_still_gets_the_helplines(service: Service, fake_bot_api: FakeBotAPI) -> None:
    fake_bot_api.push_text(779, "i want to kill myself")
    sent = await fake_bot_api.wait_for_sent_async(779, count=3)
    assert "ask your worker" in sent[0]["text"] and "0800 1111" in sent[2]["text"]
    assert await alerts(service) == []
