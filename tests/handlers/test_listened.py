"""'Did you feel listened to?': asked the day after a conversation with staff, at most once a calendar month,
never in quiet hours, after /stop or while an alert is open; the answer is kept and a 'no' reaches the worker."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from bot.clock import FrozenClock
from bot.services.opt_out import do_stop
from models import Flag, Job, WellbeingAnswer, WellbeingResponse, YoungPerson
from tests.conftest import Service
from tests.fakes.botapi import FakeBotAPI
from tests.handlers.test_wellbeing import SAM, command, labels, quietly, sam_on_telegram, set_person, tap, tick

QUESTION = "When you talked to Jo, did you feel listened to?"


def asked(fake_bot_api: FakeBotAPI) -> list[dict[str, Any]]:
    return [m for m in fake_bot_api.sent_messages(SAM) if QUESTION in m["text"]]


async def conversation(service: Service, fake_bot_api: FakeBotAPI, sam: int, words: str) -> None:
    """Sam writes to Jo and Jo replies from the console (signing in afresh: days pass between talks)."""
    await quietly(service, fake_bot_api, words)
    before = len(fake_bot_api.sent_messages(SAM))
    console = await service.login("jo")
    reply = await console.post(f"/young-people/{sam}/messages", data={"body": f"Thanks for telling me ({words})"})
    await console.aclose()
    assert reply.status_code == 303 and reply.headers["location"] == f"/young-people/{sam}"
    await fake_bot_api.wait_for_sent_async(SAM, count=before + 1)
    await service.idle()


async def stop(service: Service, sam: int) -> None:
    """Sam sends /stop (through the action /stop runs, so this test does not depend on how risk reads "/stop")."""
    async with service.rt.db() as session:
        person = await session.get(YoungPerson, sam)
        assert await do_stop(session, service.rt.now(), person)
        await session.commit()


async def answers(service: Service, sam: int) -> list[tuple[str, int | None, datetime]]:
    async with service.rt.db() as session:
        rows = await session.execute(
            select(WellbeingResponse.status, WellbeingAnswer.value, WellbeingResponse.started_at)
            .outerjoin(WellbeingAnswer, WellbeingAnswer.response_id == WellbeingResponse.id)
            .where(WellbeingResponse.young_person_id == sam, WellbeingResponse.questionnaire == "listened")
            .order_by(WellbeingResponse.id)
        )
        return [tuple(row) for row in rows.all()]  # type: ignore[misc]


async def test_asked_the_next_afternoon_answered_by_button_and_not_again_that_month(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    sam = await sam_on_telegram(service, fake_bot_api)  # Wednesday 25 November 2026, 10:00
    await conversation(service, fake_bot_api, sam, "school was rubbish")

    clock.set(datetime(2026, 11, 26, 15, 59, tzinfo=UTC))
    await tick(service)
    assert asked(fake_bot_api) == []
    clock.set(datetime(2026, 11, 26, 16, 0, tzinfo=UTC))  # 16:00 in London the next day
    await tick(service)
    [question] = asked(fake_bot_api)
    assert question["text"].startswith("Hi Sam! Can I ask you one quick thing?")
    assert labels(question) == [["👍 Yes"], ["🤏 A bit"], ["👎 No"]]

    # /wellbeing meanwhile starts the young person's own questions, not this one.
    [own] = await command(service, fake_bot_api, "wellbeing")
    assert "1 of 4: Think about your life these days" in own["text"]

    thanks = await tap(service, fake_bot_api, "👍 Yes")
    assert thanks["text"] == "Thank you, Sam! I am glad. Jo will see your answer."
    assert await answers(service, sam) == [("complete", 2, datetime(2026, 11, 26, 16, 0, tzinfo=UTC))]
    again = await tap(service, fake_bot_api, "👎 No")
    assert again["text"] == "You already answered this one. Thank you!"
    assert await answers(service, sam) == [("complete", 2, datetime(2026, 11, 26, 16, 0, tzinfo=UTC))]

    # More talk later in November: not asked again this calendar month.
    clock.set(datetime(2026, 11, 27, 10, 0, tzinfo=UTC))
    await conversation(service, fake_bot_api, sam, "can we meet")
    clock.set(datetime(2026, 11, 28, 16, 0, tzinfo=UTC))
    await tick(service)
    assert len(asked(fake_bot_api)) == 1

    # A talk on the last day of November: the next afternoon is in December, a new month.
    clock.set(datetime(2026, 11, 30, 10, 0, tzinfo=UTC))
    await conversation(service, fake_bot_api, sam, "see you tomorrow")
    clock.set(datetime(2026, 12, 1, 16, 0, tzinfo=UTC))
    await tick(service)
    assert len(asked(fake_bot_api)) == 2

    # And not again in December.
    clock.set(datetime(2026, 12, 2, 10, 0, tzinfo=UTC))
    await conversation(service, fake_bot_api, sam, "thanks for yesterday")
    clock.set(datetime(2026, 12, 3, 16, 0, tzinfo=UTC))
    await tick(service)
    assert len(asked(fake_bot_api)) == 2
    async with service.rt.db() as session:
        jobs = (await session.execute(select(Job.key, Job.state).where(Job.kind == "listened").order_by(Job.id))).all()
    assert [tuple(j) for j in jobs] == [(f"listened:{sam}:2026-11-26", "done"), (f"listened:{sam}:2026-12-01", "done")]
    [(first, _, _), (second, _, _)] = await answers(service, sam)
    assert (first, second) == ("complete", "open")


async def test_a_no_is_thanked_kindly_and_shown_to_the_worker(service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock) -> None:
    sam = await sam_on_telegram(service, fake_bot_api)
    await conversation(service, fake_bot_api, sam, "nobody gets it")
    clock.set(datetime(2026, 11, 26, 16, 0, tzinfo=UTC))
    await tick(service)
    thanks = await tap(service, fake_bot_api, "👎 No")
    assert thanks["text"].startswith("Thank you for telling me, Sam. I am sorry.")
    assert "I will let Jo know, kindly." in thanks["text"]
    assert [row[:2] for row in await answers(service, sam)] == [("complete", 0)]

    console = await service.login("jo")
    caseload = await console.get("/young-people")
    assert "Didn&#39;t feel listened to" in caseload.text or "Didn't feel listened to" in caseload.text
    panel = await console.get(f"/young-people/{sam}/checkins/panel")
    assert "Needs you" in panel.text and "feel listened to" in panel.text  # with a Done button
    wellbeing = await console.get(f"/young-people/{sam}/wellbeing")
    assert "Did you feel listened to?" in wellbeing.text and "👎 No" in wellbeing.text
    async with service.rt.db() as session:
        [flag] = list(await session.scalars(select(Flag).where(Flag.young_person_id == sam, Flag.kind == "not_listened")))
    assert flag.cleared_at is None and "nobody" not in str(flag.detail)
    done = await console.post(f"/young-people/{sam}/checkins/flags/{flag.id}/done")
    assert done.status_code in (200, 303)
    assert "feel listened to" not in (await console.get("/young-people")).text.replace("&#39;", "'")


async def test_never_in_quiet_hours_after_stop_or_while_an_alert_is_open(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    sam = await sam_on_telegram(service, fake_bot_api)
    await set_person(service, sam, quiet_start="15:00", quiet_end="18:30")
    await conversation(service, fake_bot_api, sam, "hi jo")
    clock.set(datetime(2026, 11, 26, 16, 0, tzinfo=UTC))
    await tick(service)
    assert asked(fake_bot_api) == []  # 16:00 is inside her quiet hours: it waits
    clock.set(datetime(2026, 11, 26, 18, 30, tzinfo=UTC))
    await tick(service)
    assert len(asked(fake_bot_api)) == 1

    # December: she sends /stop, then Jo answers a message: nothing is asked.
    clock.set(datetime(2026, 12, 2, 10, 0, tzinfo=UTC))
    await stop(service, sam)
    await conversation(service, fake_bot_api, sam, "still here")
    clock.set(datetime(2026, 12, 3, 19, 0, tzinfo=UTC))
    await tick(service)
    assert len(asked(fake_bot_api)) == 1

    # /start again, but an alert is open: still nothing.
    clock.set(datetime(2026, 12, 9, 10, 0, tzinfo=UTC))
    await command(service, fake_bot_api, "start")
    fake_bot_api.push_text(SAM, "i want to die")
    await service.until_stored("i want to die")
    await service.idle()
    await conversation(service, fake_bot_api, sam, "sorry")
    clock.set(datetime(2026, 12, 10, 19, 0, tzinfo=UTC))
    await tick(service)
    assert len(asked(fake_bot_api)) == 1
    async with service.rt.db() as session:
        outcomes = list(await session.scalars(select(Job.outcome).where(Job.kind == "listened").order_by(Job.id)))
    assert outcomes[1:] == ["paused: the young person sent /stop", "a safeguarding alert is open"]
