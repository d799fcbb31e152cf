"""Leave and cover: the cover answers the caseload while the worker is away, and the young person is told."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
from sqlalchemy import select

from bot.clock import FrozenClock
from models import AuditEvent, Job, JobState, LeavePeriod, Message, StaffRole
from tests.conftest import Service, sam_joins_on_telegram
from tests.e2e.test_telegram_loop import next_event
from tests.fakes.botapi import FakeBotAPI

CHAT = 4470001
# Wednesday 25 November 2026 is the test's today; this leave is the whole of the next week.
FIRST_DAY, LAST_DAY = "2026-11-30", "2026-12-04"
BACK = "Monday 7 December"


async def linked_sam(service: Service, fake_bot_api: FakeBotAPI, chat: int = CHAT) -> tuple[httpx.AsyncClient, int, int]:
    """Jo adds Sam, Sam joins on Telegram; return Jo's signed-in console, Sam's id and Jo's id."""
    return await sam_joins_on_telegram(service, fake_bot_api, chat)


async def say(service: Service, fake_bot_api: FakeBotAPI, text: str, chat: int = CHAT) -> list[str]:
    """Send a message as Sam and return what the bot sent back to it (if anything)."""
    before = len(fake_bot_api.sent_messages(chat))
    fake_bot_api.push_text(chat, text)
    await service.until_stored(text)
    await service.idle()
    return [m["text"] for m in fake_bot_api.sent_messages(chat)[before:]]


async def record_leave(console: httpx.AsyncClient, staff_id: int, cover_id: int, first: str = FIRST_DAY, last: str = LAST_DAY) -> int:
    """Record leave through the hours-and-leave page; return the leave's id."""
    response = await console.post(
        f"/staff/{staff_id}/leave", data={"starts_on": first, "ends_on": last, "cover_id": str(cover_id)}
    )
    assert response.status_code == 303, response.text
    page = await console.get(f"/staff/{staff_id}")
    return int(re.findall(r'name="leave_id" value="(\d+)"', page.text)[0])


async def test_cover_sees_and_answers_only_while_the_worker_is_away(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    jo, sam, jo_id = await linked_sam(service, fake_bot_api)
    ali_account = await service.staff("ali", "Ali")
    ali = await service.login("ali")
    await say(service, fake_bot_api, "can we talk about college")
    await record_leave(jo, jo_id, ali_account.id)
    async with service.rt.db() as session:  # who was given access, by whom, is in the audit log
        audited = await session.scalar(select(AuditEvent).where(AuditEvent.action == "cover_assigned"))
        assert (audited.actor_staff_id, audited.target, audited.detail["away"]) == (jo_id, f"staff:{ali_account.id}", jo_id)

    # Before the leave: Ali sees nothing of Sam, whatever the id.
    assert "Sam" not in (await ali.get("/young-people")).text
    assert (await ali.get(f"/young-people/{sam}")).status_code == 404
    assert (await ali.post(f"/young-people/{sam}/messages", data={"body": "hi"})).status_code == 404

    # The leave begins at midnight; Sam is told at the end of their quiet hours, not at midnight.
    clock.set(datetime(2026, 11, 30, 0, 0, tzinfo=UTC))
    await service.run_jobs()
    assert len(fake_bot_api.sent_messages(CHAT)) == 2
    clock.set(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))
    await service.run_jobs()
    notice = fake_bot_api.sent_messages(CHAT)[-1]["text"]
    assert notice.startswith(f"Hi Sam. Jo is away until {BACK}.\nAli ")
    assert notice == service.rt.content.text("team.cover_started", name="Sam", worker="Jo", cover="Ali", back=BACK)

    # During the leave: Ali has the caseload, the whole history, live messages, and replies as Ali.
    clock.set(datetime(2026, 11, 30, 10, 0, tzinfo=UTC))
    ali, jo = await service.login("ali"), await service.login("jo")  # a new working day, a new sign-in
    caseload = await ali.get("/young-people")
    assert f'href="/young-people/{sam}"' in caseload.text
    conversation = await ali.get(f"/young-people/{sam}")
    assert conversation.status_code == 200 and "can we talk about college" in conversation.text
    async with ali.stream("GET", f"/events?young_person={sam}") as stream:
        fake_bot_api.push_text(CHAT, "is jo off?")
        assert "is jo off?" in await next_event(stream, "message", containing="is jo off?")
    await service.idle()
    assert 'class="badge"' not in (await ali.get("/unread")).text  # read live on the open page
    reply = await ali.post(f"/young-people/{sam}/messages", data={"body": "Yes, back next week. I can help."})
    assert reply.status_code == 303
    sent = await fake_bot_api.wait_for_sent_async(CHAT, count=4)
    assert sent[-1]["text"] == "Ali:\nYes, back next week. I can help."
    assert len(fake_bot_api.sent_messages(CHAT)) == 4  # no automatic answer: Sam already knows

    # After the leave: Ali's access ends; the history stays with Sam, Ali's reply under Ali's name.
    clock.set(datetime(2026, 12, 5, 0, 0, tzinfo=UTC))
    await service.run_jobs()
    ali, jo = await service.login("ali"), await service.login("jo")
    assert "Sam" not in (await ali.get("/young-people")).text
    assert (await ali.get(f"/young-people/{sam}")).status_code == 404
    assert (await ali.post(f"/young-people/{sam}/messages", data={"body": "still here"})).status_code == 404
    page = await jo.get(f"/young-people/{sam}")
    assert "Yes, back next week. I can help." in page.text and ">Ali<" in page.text
    await ali.aclose()


async def test_out_of_hours_during_leave_says_who_is_answering_and_when(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    jo, sam, jo_id = await linked_sam(service, fake_bot_api)
    ali = await service.staff("ali", "Ali")
    await record_leave(jo, jo_id, ali.id)
    clock.set(datetime(2026, 12, 1, 21, 45, tzinfo=UTC))  # Tuesday night (quiet hours), during the leave
    await service.run_jobs()  # the leave began; its notice waits for the end of quiet hours
    answer = await say(service, fake_bot_api, "you there?")
    assert len(answer) == 1
    assert answer[0].startswith(f"Thanks. Jo is away until {BACK}.\nAli ")
    assert "Ali will see your message tomorrow at 9am." in answer[0]
    assert "999" in answer[0] and "0800 1111" in answer[0] and "0300 123 4567" in answer[0]
    assert await say(service, fake_bot_api, "ok night") == []  # one answer per evening

    clock.set(datetime(2026, 12, 2, 8, 0, tzinfo=UTC))
    await service.run_jobs()
    assert len(fake_bot_api.sent_messages(CHAT)) == 3  # already told: the morning notice is dropped
    async with service.rt.db() as session:
        notice = await session.scalar(select(Job).where(Job.key.like("leave:%:notice:%")))
        assert notice is not None and notice.state == JobState.DROPPED


async def test_first_message_of_a_leave_recorded_late_says_who_is_answering(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    jo, sam, jo_id = await linked_sam(service, fake_bot_api)
    ali = await service.staff("ali", "Ali")
    # Jo is off sick from today until Friday: cover starts at once.
    await record_leave(jo, jo_id, ali.id, "2026-11-25", "2026-11-27")
    answer = await say(service, fake_bot_api, "hi jo")
    assert answer == [
        service.rt.content.text("message.on_leave", worker="Jo", cover="Ali", back="Monday 30 November")
    ]
    assert answer[0].startswith("Thanks. Jo is away until Monday 30 November.\nAli ")
    assert await say(service, fake_bot_api, "ok") == []
    await service.run_jobs()
    assert len(fake_bot_api.sent_messages(CHAT)) == 3  # the notice is not sent twice


async def test_out_of_hours_before_a_leave_names_the_cover(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    jo, sam, jo_id = await linked_sam(service, fake_bot_api)
    ali = await service.staff("ali", "Ali")
    await record_leave(jo, jo_id, ali.id)
    clock.set(datetime(2026, 11, 27, 18, 0, tzinfo=UTC))  # Friday evening before the leave
    answer = await say(service, fake_bot_api, "see you monday")
    assert answer[0].startswith(f"Thanks. Jo is not at work right now, and is away until {BACK}.\n")
    assert "Ali" in answer[0] and "on Monday at 9am" in answer[0] and "999" in answer[0]


async def test_ending_leave_early_ends_cover_at_once(service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock) -> None:
    jo, sam, jo_id = await linked_sam(service, fake_bot_api)
    ali_id = (await service.staff("ali", "Ali")).id
    await service.staff("priya", "Priya", StaffRole.MANAGER)
    priya = await service.login("priya")
    ali = await service.login("ali")
    leave_id = await record_leave(priya, jo_id, ali_id, "2026-11-25", "2026-12-04")  # a manager records it
    assert (await ali.get(f"/young-people/{sam}")).status_code == 200
    assert "On leave to" in (await priya.get("/staff")).text

    ended = await jo.post(f"/staff/{jo_id}/leave/end", data={"leave_id": str(leave_id)})
    assert ended.status_code == 303
    assert (await ali.get(f"/young-people/{sam}")).status_code == 404
    async with service.rt.db() as session:
        leave = await session.get(LeavePeriod, leave_id)
        assert leave is not None and leave.state == "over" and leave.ended_by_id == jo_id
        pending = await session.scalars(select(Job).where(Job.key.like(f"leave:{leave_id}:%"), Job.state == JobState.PENDING))
        assert pending.all() == []
    # Nobody else's leave can be ended by changing the ids.
    assert (await ali.post(f"/staff/{jo_id}/leave/end", data={"leave_id": str(leave_id)})).status_code == 404
    ali_id_leave = await record_leave(ali, ali_id, jo_id, "2027-01-04", "2027-01-05")
    assert (await ali.post(f"/staff/{ali_id}/leave/end", data={"leave_id": str(leave_id)})).status_code == 404
    assert (await ali.post(f"/staff/{ali_id}/leave/end", data={"leave_id": str(ali_id_leave)})).status_code == 303
    await ali.aclose()
    await priya.aclose()


async def test_leave_starting_today_is_refused_when_the_cover_is_away_too(service: Service, clock: FrozenClock) -> None:
    jo_id = (await service.staff("jo", "Jo")).id
    ali = await service.staff("ali", "Ali")
    bo = await service.staff("bo", "Bo")
    ali_console = await service.login("ali")
    jo = await service.login("jo")
    await record_leave(ali_console, ali.id, bo.id)
    refused = await jo.post(f"/staff/{jo_id}/leave", data={"starts_on": "2026-12-01", "ends_on": "2026-12-02", "cover_id": str(ali.id)})
    assert refused.status_code == 400 and "Ali is away then too" in refused.text
    backwards = await jo.post(f"/staff/{jo_id}/leave", data={"starts_on": "2026-12-02", "ends_on": "2026-12-01", "cover_id": str(bo.id)})
    assert backwards.status_code == 400 and "on or after the first day" in backwards.text
    async with service.rt.db() as session:
        assert len((await session.scalars(select(LeavePeriod))).all()) == 1
        assert (await session.scalar(select(Message.id).limit(1))) is None
    await ali_console.aclose()
