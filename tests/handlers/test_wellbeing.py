"""Wellbeing questions: sent monthly after quiet hours, one at a time by button or typed, skipped, stopped and resumed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.clock import FrozenClock
from bot.services.wellbeing import do_record_answer
from bot.services.wellbeing_plan import next_due
from models import ChannelLink, Job, JobState, Message, WellbeingAnswer, WellbeingResponse, YoungPerson
from tests.conftest import Service
from tests.e2e.test_telegram_loop import invite_for
from tests.e2e.test_webchat_loop import join_webchat
from tests.fakes.botapi import FakeBotAPI

SAM = 8880001


async def sam_on_telegram(service: Service, fake_bot_api: FakeBotAPI, *, language: str = "en") -> int:
    """Jo invites Sam, who links Telegram; return Sam's id once the welcome is delivered."""
    await service.staff("jo", "Jo")
    console = await service.login("jo")
    person_id, code = await invite_for(console, "Samira Haddad", "Sam")
    await console.aclose()
    if language != "en":
        await set_person(service, person_id, language=language)
    fake_bot_api.push_command(SAM, "start", code)
    await fake_bot_api.wait_for_sent_async(SAM, count=2)
    await service.idle()
    return person_id


async def set_person(service: Service, person_id: int, **values: Any) -> None:
    async with service.rt.db() as session:
        person = await session.get(YoungPerson, person_id)
        for name, value in values.items():
            setattr(person, name, value)
        await session.commit()


async def replies_to(service: Service, fake_bot_api: FakeBotAPI, push: Any, count: int = 1) -> list[dict[str, Any]]:
    """Send something as Sam and return the bot's next `count` messages."""
    before = len(fake_bot_api.sent_messages(SAM))
    push()
    sent = await fake_bot_api.wait_for_sent_async(SAM, count=before + count)
    await service.idle()
    return sent[before:]


async def command(service: Service, fake_bot_api: FakeBotAPI, name: str, count: int = 1) -> list[dict[str, Any]]:
    return await replies_to(service, fake_bot_api, lambda: fake_bot_api.push_command(SAM, name), count)


async def text(service: Service, fake_bot_api: FakeBotAPI, words: str, count: int = 1) -> list[dict[str, Any]]:
    return await replies_to(service, fake_bot_api, lambda: fake_bot_api.push_text(SAM, words), count)


async def quietly(service: Service, fake_bot_api: FakeBotAPI, words: str) -> None:
    """Send words as Sam and wait until they are stored and handled, expecting no reply."""
    fake_bot_api.push_text(SAM, words)
    await service.until_stored(words)
    await service.idle()


async def telegram_id_of(service: Service, label: str, nth_latest: int = 0) -> tuple[int, str]:
    """Find the bot's message offering a button with this label (newest first) and return its Telegram id and data."""
    async with service.rt.db() as session:
        rows = await session.scalars(select(Message).where(Message.direction == "out").order_by(Message.id.desc()))
        found = [
            (int(m.external_id), b["data"])
            for m in rows
            if m.external_id
            for row in m.meta.get("buttons", [])
            for b in row
            if b["label"] == label
        ]
    assert len(found) > nth_latest, f"no button {label!r} was offered"
    return found[nth_latest]


async def tap(service: Service, fake_bot_api: FakeBotAPI, label: str, nth_latest: int = 0) -> dict[str, Any]:
    """Tap a button by its label on the newest message offering it (or an older one) and return the answer."""
    message_id, data = await telegram_id_of(service, label, nth_latest)
    [reply] = await replies_to(service, fake_bot_api, lambda: fake_bot_api.push_callback(SAM, data, message_id))
    return reply


def labels(message: dict[str, Any]) -> list[list[str]]:
    return [[b["text"] for b in row] for row in message.get("reply_markup", {}).get("inline_keyboard", [])]


async def responses(service: Service, person_id: int) -> list[tuple[WellbeingResponse, dict[str, WellbeingAnswer]]]:
    async with service.rt.db() as session:
        found = list(
            await session.scalars(
                select(WellbeingResponse).where(WellbeingResponse.young_person_id == person_id).order_by(WellbeingResponse.id)
            )
        )
        result = []
        for response in found:
            answers = await session.scalars(select(WellbeingAnswer).where(WellbeingAnswer.response_id == response.id))
            result.append((response, {a.question: a for a in answers}))
        return result


async def tick(service: Service) -> int:
    ran = await service.rt.scheduler.tick()
    await service.idle()
    return ran


async def pending_prompts(service: Service) -> list[datetime]:
    async with service.rt.db() as session:
        rows = await session.scalars(
            select(Job.due_at).where(Job.kind == "wellbeing", Job.state == JobState.PENDING).order_by(Job.due_at)
        )
        return list(rows)


async def test_the_monthly_prompt_comes_a_month_after_joining_and_waits_for_quiet_hours(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    sam = await sam_on_telegram(service, fake_bot_api)  # Wednesday 25 November, 10:00
    # Joining puts her on the default plan, though she has not written a word yet.
    assert await pending_prompts(service) == [datetime(2026, 12, 25, 17, 0, tzinfo=UTC)]  # 17:00 in London (GMT)
    await set_person(service, sam, quiet_start="16:30", quiet_end="19:00")

    sent_before = len(fake_bot_api.sent_messages(SAM))
    clock.set(datetime(2026, 12, 24, 17, 0, tzinfo=UTC))
    assert await tick(service) == 0
    clock.set(datetime(2026, 12, 25, 17, 0, tzinfo=UTC))
    await tick(service)
    assert len(fake_bot_api.sent_messages(SAM)) == sent_before  # held: 17:00 is inside her quiet hours
    assert await responses(service, sam) == []

    clock.set(datetime(2026, 12, 25, 19, 0, tzinfo=UTC))
    await tick(service)
    [intro] = fake_bot_api.sent_messages(SAM)[sent_before:]
    assert "Hi Sam! It is time for a few questions" in intro["text"] and "There are 4 short ones" in intro["text"]
    assert "Jo will see your answers" in intro["text"]
    assert labels(intro) == [["Let's start"], ["Not now"]]
    [(response, answers)] = await responses(service, sam)
    assert response.trigger == "scheduled" and response.status == "open" and answers == {}
    assert await pending_prompts(service) == [datetime(2027, 1, 25, 17, 0, tzinfo=UTC)]  # the next month's

    later = await tap(service, fake_bot_api, "Not now")
    assert later["text"] == "OK. Tap Carry on when you want to do them." and labels(later) == [["Carry on"]]
    question = await tap(service, fake_bot_api, "Carry on")
    assert "1 of 4: Think about your life these days" in question["text"]


async def test_after_a_long_outage_one_late_prompt_and_none_just_after_answering(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    sam = await sam_on_telegram(service, fake_bot_api)
    await quietly(service, fake_bot_api, "hi jo")
    before = len(fake_bot_api.sent_messages(SAM))
    clock.set(datetime(2027, 2, 3, 12, 0, tzinfo=UTC))  # the service was off over two due dates
    await tick(service)
    assert len(fake_bot_api.sent_messages(SAM)) == before + 1  # one prompt, not two
    assert await pending_prompts(service) == [datetime(2027, 2, 25, 17, 0, tzinfo=UTC)]

    clock.set(datetime(2027, 2, 20, 16, 0, tzinfo=UTC))
    async with service.rt.db() as session:  # she answers it a few days before the next is due
        [(response, _)] = await responses(service, sam)
        response = await session.get(WellbeingResponse, response.id)
        for position in range(4):
            await do_record_answer(session, clock.now(), response, position, value=5)
        await session.commit()
    clock.set(datetime(2027, 2, 25, 17, 0, tzinfo=UTC))
    await tick(service)
    assert len(fake_bot_api.sent_messages(SAM)) == before + 1  # not asked again so soon
    assert await pending_prompts(service) == [datetime(2027, 3, 25, 17, 0, tzinfo=UTC)]


async def test_all_four_ons_questions_by_button_are_scored_with_anxiety_turned_round(
    service: Service, fake_bot_api: FakeBotAPI
) -> None:
    sam = await sam_on_telegram(service, fake_bot_api)
    [first] = await command(service, fake_bot_api, "wellbeing")
    assert first["text"].startswith("OK! There are 4 short questions")
    assert "1 of 4: Think about your life these days. All in all, how happy are you with it?" in first["text"]
    assert "0 means not at all. 10 means totally." in first["text"]
    assert labels(first) == [["0", "1", "2", "3", "4", "5"], ["6", "7", "8", "9", "10"], ["Skip"]]

    second = await tap(service, fake_bot_api, "7")
    assert "2 of 4: Think about the things you do" in second["text"]
    third = await tap(service, fake_bot_api, "8")
    assert "3 of 4: Think about the whole of yesterday. How happy" in third["text"]
    fourth = await tap(service, fake_bot_api, "6")
    assert "4 of 4: Think about the whole of yesterday. How worried or nervous" in fourth["text"]
    done = await tap(service, fake_bot_api, "2")
    assert done["text"] == "Thank you, Sam! That is all. Jo will see your answers."

    [(response, answers)] = await responses(service, sam)
    assert response.status == "complete" and response.trigger == "self" and response.completed_at is not None
    assert {q: a.value for q, a in answers.items()} == {"life": 7, "worthwhile": 8, "happy": 6, "anxious": 2}
    # Anxiety 2 counts as 8 in the overall mean: (7 + 8 + 6 + 8) / 4.
    assert response.scores == {"life": 7, "worthwhile": 8, "happy": 6, "anxious": 2, "overall": 7.25}


async def test_skip_is_always_offered_and_a_skipped_question_leaves_no_overall_score(
    service: Service, fake_bot_api: FakeBotAPI
) -> None:
    sam = await sam_on_telegram(service, fake_bot_api)
    [first] = await command(service, fake_bot_api, "wellbeing")
    assert labels(first)[-1] == ["Skip"]
    second = await tap(service, fake_bot_api, "Skip")
    assert labels(second)[-1] == ["Skip"] and "2 of 4" in second["text"]
    await tap(service, fake_bot_api, "9")
    [fourth] = await text(service, fake_bot_api, "skip")  # typed works too
    assert "4 of 4" in fourth["text"]
    await tap(service, fake_bot_api, "0")

    [(response, answers)] = await responses(service, sam)
    assert response.status == "complete"
    assert answers["life"].skipped and answers["life"].value is None and answers["happy"].skipped
    assert response.scores["overall"] is None and response.scores["life"] is None
    assert response.scores["worthwhile"] == 9 and response.scores["anxious"] == 0


async def test_feelings_questions_take_choices_and_free_words(service: Service, fake_bot_api: FakeBotAPI) -> None:
    sam = await sam_on_telegram(service, fake_bot_api)
    console = await service.login("jo")
    saved = await console.post(f"/young-people/{sam}/wellbeing/plan", data={"questionnaire": "feelings", "frequency": "weekly"})
    assert saved.status_code == 303

    [mood] = await command(service, fake_bot_api, "wellbeing")
    assert "1 of 4: How are you feeling today?" in mood["text"]
    assert labels(mood) == [["😢 Bad"], ["🙁 Not good"], ["😐 OK"], ["🙂 Good"], ["😄 Great"], ["Skip"]]
    sleep = await tap(service, fake_bot_api, "🙂 Good")
    assert "How well have you slept this week?" in sleep["text"]
    [people] = await text(service, fake_bot_api, "not well")  # an option's words, typed
    assert "someone to talk to" in people["text"]
    note = await tap(service, fake_bot_api, "Yes")
    assert "anything else you want Jo to know" in note["text"] and labels(note) == [["Skip"]]
    [done] = await text(service, fake_bot_api, "I might be moving house on friday")
    assert done["text"].startswith("Thank you, Sam!")

    [(response, answers)] = await responses(service, sam)
    assert {q: a.value for q, a in answers.items()} == {"mood": 4, "sleep": 2, "people": 3, "note": None}
    assert answers["note"].text == "I might be moving house on friday"
    assert response.scores == {"mood": 4, "sleep": 2, "people": 3}


async def test_stopped_half_way_then_resumed_where_they_left_off(service: Service, fake_bot_api: FakeBotAPI) -> None:
    sam = await sam_on_telegram(service, fake_bot_api)
    await command(service, fake_bot_api, "wellbeing")
    await tap(service, fake_bot_api, "5")
    await tap(service, fake_bot_api, "6")
    [stopped] = await command(service, fake_bot_api, "cancel")
    assert stopped["text"].startswith("OK, stopped.")

    sent_before = len(fake_bot_api.sent_messages(SAM))
    await quietly(service, fake_bot_api, "4")  # no question is waiting now: it is just a message for Jo
    assert len(fake_bot_api.sent_messages(SAM)) == sent_before
    [(response, answers)] = await responses(service, sam)
    assert response.status == "open" and set(answers) == {"life", "worthwhile"}

    [resumed] = await command(service, fake_bot_api, "wellbeing")
    assert resumed["text"].startswith("Welcome back! Let's carry on from question 3 of 4.")
    assert "3 of 4: Think about the whole of yesterday. How happy" in resumed["text"]
    await tap(service, fake_bot_api, "7")
    await tap(service, fake_bot_api, "3")
    [(response, answers)] = await responses(service, sam)
    assert response.status == "complete" and len(answers) == 4 and response.scores["overall"] == 6.25


async def test_just_leaving_then_carry_on_later(service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock) -> None:
    sam = await sam_on_telegram(service, fake_bot_api)
    await command(service, fake_bot_api, "wellbeing")
    await tap(service, fake_bot_api, "5")
    clock.advance(hours=3)
    # Hours later a number is a message, not an answer to the question they walked away from.
    await quietly(service, fake_bot_api, "7")
    [(_, answers)] = await responses(service, sam)
    assert set(answers) == {"life"}

    clock.advance(days=2)
    message_id, data = await telegram_id_of(service, "6")  # the old question's button still works
    [answered] = await replies_to(service, fake_bot_api, lambda: fake_bot_api.push_callback(SAM, data, message_id))
    assert "3 of 4" in answered["text"]
    [(_, answers)] = await responses(service, sam)
    assert answers["worthwhile"].value == 6


async def test_a_typed_number_answers_and_nonsense_is_asked_again_kindly(service: Service, fake_bot_api: FakeBotAPI) -> None:
    sam = await sam_on_telegram(service, fake_bot_api)
    await command(service, fake_bot_api, "wellbeing")
    [second] = await text(service, fake_bot_api, " 7 ")
    assert "2 of 4" in second["text"]
    [again] = await text(service, fake_bot_api, "banana")
    assert again["text"].startswith("Sorry, I did not get that. Please tap a number from 0 to 10, or type it.")
    assert "2 of 4" in again["text"] and labels(again)[-1] == ["Skip"]
    [third] = await text(service, fake_bot_api, "8/10")
    assert "3 of 4" in third["text"]

    await text(service, fake_bot_api, "eleventy")
    # A second miss in a row: the questions pause, so their words simply reach Jo.
    paused = (await text(service, fake_bot_api, "can we talk about my placement", count=1))[0]
    assert paused["text"].startswith("No problem. We can finish the questions later.")
    assert labels(paused) == [["Carry on"]]
    [(response, answers)] = await responses(service, sam)
    assert response.status == "open" and {q: a.value for q, a in answers.items()} == {"life": 7, "worthwhile": 8}
    await service.until_stored("can we talk about my placement")  # stored for Jo like any message

    resumed = await tap(service, fake_bot_api, "Carry on")
    assert "Let's carry on from question 3 of 4" in resumed["text"]


async def test_stale_buttons_change_nothing_and_say_so(service: Service, fake_bot_api: FakeBotAPI) -> None:
    sam = await sam_on_telegram(service, fake_bot_api)
    await command(service, fake_bot_api, "wellbeing")
    await tap(service, fake_bot_api, "4")
    again = await tap(service, fake_bot_api, "9", nth_latest=1)  # question 1's button, pressed late
    assert again["text"].startswith("You already answered that one.") and "2 of 4" in again["text"]
    [(_, answers)] = await responses(service, sam)
    assert {q: a.value for q, a in answers.items()} == {"life": 4}

    for value in ("5", "6", "7"):
        await tap(service, fake_bot_api, value)
    finished = await tap(service, fake_bot_api, "1")
    assert finished["text"] == "You already did those questions. Thank you!"

    # A newer questionnaire closes the one before: its buttons then offer a fresh start.
    await command(service, fake_bot_api, "wellbeing")
    await tap(service, fake_bot_api, "3")
    console = await service.login("jo")
    await console.post(f"/young-people/{sam}/wellbeing/prompts")
    await tick(service)
    closed = await tap(service, fake_bot_api, "8", nth_latest=0)
    assert closed["text"].startswith("Those questions are closed now.") and labels(closed) == [["Let's start"]]
    assert [(r.status, r.trigger) for r, _ in await responses(service, sam)] == [
        ("complete", "self"), ("closed", "self"), ("open", "worker"),
    ]


async def test_arabic_end_to_end_on_telegram(service: Service, fake_bot_api: FakeBotAPI) -> None:
    sam = await sam_on_telegram(service, fake_bot_api, language="ar")
    welcome = fake_bot_api.sent_messages(SAM)[0]["text"]
    assert "Hi" not in welcome  # the welcome is in Arabic too

    [first] = await command(service, fake_bot_api, "wellbeing")
    assert "فكّر في حياتك هذه الأيام" in first["text"] and "0 means" not in first["text"]
    skip = labels(first)[-1][0]
    assert skip != "Skip"
    [second] = await text(service, fake_bot_api, "٧")  # Arabic-Indic digits typed
    assert "2" in second["text"] and "فكّر في الأشياء" in second["text"]
    [again] = await text(service, fake_bot_api, "موز")
    assert "Sorry" not in again["text"] and "فكّر في الأشياء" in again["text"]
    await tap(service, fake_bot_api, skip)
    await tap(service, fake_bot_api, "5")
    done = await tap(service, fake_bot_api, "1")
    assert "Jo" in done["text"] and "Thank you" not in done["text"]

    [(response, answers)] = await responses(service, sam)
    assert response.language == "ar" and response.status == "complete"
    assert {q: a.value for q, a in answers.items()} == {"life": 7, "worthwhile": None, "happy": 5, "anxious": 1}


async def test_arabic_end_to_end_in_web_chat(service: Service) -> None:
    await service.staff("jo", "Jo")
    console = await service.login("jo")
    person_id, code = await invite_for(console, "Amal Haddad", "Amal")
    await set_person(service, person_id, language="ar")
    chat = await join_webchat(service, code)

    await console.post(f"/young-people/{person_id}/wellbeing/prompts")
    await tick(service)
    page = await service.client.get(chat)
    assert 'dir="rtl"' in page.text and 'lang="ar"' in page.text
    async with service.rt.db() as session:
        intro = await session.scalar(
            select(Message).where(Message.purpose == "wellbeing_intro", Message.young_person_id == person_id)
        )
        assert intro is not None and intro.channel == "webchat"
    assert intro.body in page.text and "Hi Amal" not in page.text
    start = intro.meta["buttons"][0][0]

    pressed = await service.client.post(f"{chat}/press", data={"message_id": intro.id, "data": start["data"]})
    assert pressed.status_code == 303
    await service.idle()
    page = await service.client.get(chat)
    assert "فكّر في حياتك هذه الأيام" in page.text
    async with service.rt.db() as session:
        link = await session.scalar(select(ChannelLink).where(ChannelLink.young_person_id == person_id))
        assert link is not None and link.kind == "webchat"
    answered = await service.client.post(f"{chat}/messages", data={"text": "٩"})
    assert answered.status_code == 303
    [(response, answers)] = await responses(service, person_id)
    assert answers["life"].value == 9 and response.language == "ar"


def test_prompts_keep_their_local_time_across_clock_changes_and_short_months() -> None:
    london = ZoneInfo("Europe/London")
    march = datetime(2027, 3, 25, 17, 0, tzinfo=UTC)  # 17:00 GMT
    assert next_due(march, "monthly", london) == datetime(2027, 4, 25, 16, 0, tzinfo=UTC)  # 17:00 BST
    assert next_due(datetime(2027, 10, 25, 16, 0, tzinfo=UTC), "monthly", london) == datetime(2027, 11, 25, 17, 0, tzinfo=UTC)
    assert next_due(datetime(2027, 1, 31, 17, 0, tzinfo=UTC), "monthly", london) == datetime(2027, 2, 28, 17, 0, tzinfo=UTC)
    assert next_due(march, "fortnightly", london) == datetime(2027, 4, 8, 16, 0, tzinfo=UTC)
    assert next_due(march, "quarterly", london) == datetime(2027, 6, 25, 16, 0, tzinfo=UTC)
    assert next_due(march, "off", london) is None
