"""An urgent message gets help and raises an alert even when the database is slow or failing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import event, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

from bot.clock import FrozenClock
from config.settings import Settings
from models import YoungPerson
from tests.conftest import Service, Sleeps, running_service
from tests.e2e.test_telegram_behaviour import fast_telegram, until  # noqa: F401 - unpaced sends, unwaited retries
from tests.fakes.botapi import FakeBotAPI
from tests.handlers.test_crisis import SAM, alerts, sam_on_telegram

HELPLINE = "0800 1111"

pytestmark = pytest.mark.usefixtures("fast_telegram")


class SlowDatabase:
    """Holds every SQL statement while stalled, or fails it while failing: a database as slow as the test says.

    The hold is an await on an event the test sets, so nothing sleeps on real time.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.sync_engine
        self._open = asyncio.Event()
        self._open.set()
        self.failing = False
        self.held = 0
        self.failed = 0
        event.listen(self._engine, "before_cursor_execute", self._statement)

    def _statement(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if self.failing:
            self.failed += 1
            raise OperationalError(statement, None, ConnectionError("database unreachable"))
        if not self._open.is_set():
            self.held += 1
            await_only(self._open.wait())  # runs inside SQLAlchemy's greenlet: the event loop goes on

    def stall(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def remove(self) -> None:
        self.release()
        event.remove(self._engine, "before_cursor_execute", self._statement)


@pytest.fixture
def slow_db(service: Service) -> Iterator[SlowDatabase]:
    db = SlowDatabase(service.rt.engine)
    yield db
    db.remove()


async def test_help_and_an_escalating_alert_while_the_database_is_stalled(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock, slow_db: SlowDatabase
) -> None:
    await sam_on_telegram(service, fake_bot_api)
    service.rt.settings.crisis_reply_seconds = 0  # the deadline has passed as soon as it is set
    slow_db.stall()
    fake_bot_api.push_text(SAM, "i want to kill myself")

    sent = await fake_bot_api.wait_for_sent_async(SAM, count=3)  # the welcome, then help
    assert HELPLINE in sent[2]["text"] and "999" in sent[2]["text"]
    await until(lambda: slow_db.held >= 1, what="the message to wait on the database")
    assert len(fake_bot_api.sent_messages(SAM)) == 3  # nothing stored can go out yet

    slow_db.release()  # the database catches up: the message, the stored replies and the alert follow
    await service.until_stored("i want to kill myself")
    sent = await fake_bot_api.wait_for_sent_async(SAM, count=5)
    assert "I have told Jo now" in sent[3]["text"] and HELPLINE in sent[4]["text"]
    await service.idle()
    [alert] = await alerts(service)
    assert alert.level == "urgent" and "suicide" in alert.categories

    clock.advance(minutes=15)
    await service.rt.scheduler.tick()
    assert (await alerts(service))[0].escalations == 1


async def test_help_when_the_database_fails_and_the_update_is_handled_once_it_is_back(
    service: Service, fake_bot_api: FakeBotAPI, slow_db: SlowDatabase
) -> None:
    await sam_on_telegram(service, fake_bot_api)
    slow_db.failing = True
    fake_bot_api.push_text(SAM, "im going to end it tonight")

    sent = await fake_bot_api.wait_for_sent_async(SAM, count=3)
    assert HELPLINE in sent[2]["text"]
    await until(lambda: slow_db.failed >= 3, what="Telegram to redeliver the update a few times")
    assert len(fake_bot_api.sent_messages(SAM)) == 3  # once, however often the update comes back

    slow_db.failing = False
    await service.until_stored("im going to end it tonight")
    await service.idle()
    [alert] = await alerts(service)
    assert alert.level == "urgent"
    assert len(fake_bot_api.sent_messages(SAM)) == 5  # the stored reply and helplines, never lost


async def test_stalled_database_and_blocked_channel_still_raise_the_alert(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock, slow_db: SlowDatabase
) -> None:
    await sam_on_telegram(service, fake_bot_api)
    service.rt.settings.crisis_reply_seconds = 0
    fake_bot_api.block_chat(SAM)
    slow_db.stall()
    fake_bot_api.push_text(SAM, "he is hitting me right now im scared")
    await until(lambda: slow_db.held >= 1, what="the transaction to wait on the database")
    slow_db.release()

    await service.until_stored("he is hitting me right now im scared")
    await service.idle()
    [alert] = await alerts(service)
    assert alert.level == "urgent" and alert.escalations == 0
    clock.advance(minutes=15)
    await service.rt.scheduler.tick()
    assert (await alerts(service))[0].escalations == 1


async def test_a_healthy_database_sends_help_once(service: Service, fake_bot_api: FakeBotAPI) -> None:
    await sam_on_telegram(service, fake_bot_api)
    fake_bot_api.push_text(SAM, "i want to die")
    await fake_bot_api.wait_for_sent_async(SAM, count=4)
    await service.idle()
    assert len(fake_bot_api.sent_messages(SAM)) == 4
    assert service.rt.lifeline.sent_count == 0



# ------------------------------------------------------------------ in the young person's language

async def test_direct_helplines_go_out_in_the_young_persons_language(
    service: Service, fake_bot_api: FakeBotAPI, slow_db: SlowDatabase
) -> None:
    from tests.handlers.test_checkin import SAM as SAMIRA, press
    from tests.handlers.test_checkin import sam_on_telegram as samira_on_telegram
    from tests.handlers.test_settings import last_bot_message_id, open_settings

    await samira_on_telegram(service, fake_bot_api)
    await open_settings(service, fake_bot_api)
    await press(service, fake_bot_api, "settings:menu:language", await last_bot_message_id(service))
    await press(service, fake_bot_api, "settings:lang:ar", await last_bot_message_id(service))
    before = len(fake_bot_api.sent_messages(SAMIRA))
    service.rt.settings.crisis_reply_seconds = 0
    slow_db.stall()
    fake_bot_api.push_text(SAMIRA, "i want to kill myself")

    sent = await fake_bot_api.wait_for_sent_async(SAMIRA, count=before + 1)
    helplines = sent[before]["text"]
    assert "إذا لم تكن بأمان" in helplines and "اتصل بالرقم 999" in helplines  # Arabic, not English
    assert HELPLINE in helplines and "0300 123 4567" in helplines and "If you are" not in helplines
    await until(lambda: slow_db.held >= 1, what="the message to wait on the database")
    slow_db.release()
    await service.until_stored("i want to kill myself")
    await service.idle()


async def test_after_a_restart_direct_helplines_are_still_in_the_young_persons_language(
    settings: Settings, clock: FrozenClock, sleeps: Sleeps, fake_bot_api: FakeBotAPI
) -> None:
    async with running_service(settings, clock, sleeps) as before:
        await sam_on_telegram(before, fake_bot_api)
        async with before.rt.db() as session:  # Sam chose Arabic in /settings some time ago
            await session.execute(update(YoungPerson).values(language="ar"))
            await session.commit()

    async with running_service(settings, clock, sleeps) as after:  # a restart: nothing in memory but what it read
        slow = SlowDatabase(after.rt.engine)
        try:
            after.rt.settings.crisis_reply_seconds = 0
            slow.failing = True
            before_count = len(fake_bot_api.sent_messages(SAM))
            fake_bot_api.push_text(SAM, "i want to kill myself")
            sent = await fake_bot_api.wait_for_sent_async(SAM, count=before_count + 1)
            assert "اتصل بالرقم 999" in sent[before_count]["text"] and HELPLINE in sent[before_count]["text"]
            slow.failing = False
            await after.until_stored("i want to kill myself")
            await after.idle()
        finally:
            slow.remove()


async def test_direct_helplines_are_in_english_when_the_language_is_not_known(
    service: Service, fake_bot_api: FakeBotAPI, slow_db: SlowDatabase
) -> None:
    await sam_on_telegram(service, fake_bot_api)
    service.rt.lifeline = type(service.rt.lifeline)()  # a restart: nothing remembered yet
    service.rt.settings.crisis_reply_seconds = 0
    slow_db.failing = True
    fake_bot_api.push_text(SAM, "i want to kill myself")
    sent = await fake_bot_api.wait_for_sent_async(SAM, count=3)
    assert sent[2]["text"].startswith("If you are not safe") and HELPLINE in sent[2]["text"]
    slow_db.failing = False
    await service.until_stored("i want to kill myself")
    await service.idle()


# ------------------------------------------------------------------ web chat: help in the response itself

async def sam_on_web_chat(service: Service, language: str = "en") -> str:
    """Jo invites Sam, who joins the web chat and opens it; return the chat's path."""
    from tests.conftest import invite_for
    from tests.e2e.test_webchat_loop import join_webchat
    from tests.handlers.test_wellbeing import set_person

    await service.staff("jo", "Jo")
    console = await service.login("jo")
    person_id, code = await invite_for(console, "Samira Haddad", "Sam")
    await console.aclose()
    chat = await join_webchat(service, code)
    await set_person(service, person_id, language=language)
    page = await service.client.get(chat)
    assert page.status_code == 200
    await service.idle()
    return chat


async def test_web_chat_gives_helplines_at_once_while_the_database_is_stalled(
    service: Service, clock: FrozenClock, slow_db: SlowDatabase
) -> None:
    chat = await sam_on_web_chat(service, language="ar")
    service.rt.settings.crisis_reply_seconds = 0
    slow_db.stall()

    sent = await service.client.post(f"{chat}/messages", data={"text": "i want to kill myself"}, headers={"HX-Request": "true"})
    assert sent.status_code == 200
    assert 'class="lifeline" role="alert"' in sent.text
    assert "إذا لم تكن بأمان" in sent.text and HELPLINE in sent.text and "999" in sent.text  # Sam reads Arabic
    assert "i want to kill myself" not in sent.text  # on its way, not handed back to send again
    await until(lambda: slow_db.held >= 1, what="the message to wait on the database")

    slow_db.release()  # the database catches up: the message is stored, the alert raised and escalated
    await service.rt.lifeline.settle()
    await service.until_stored("i want to kill myself")
    await service.idle()
    [alert] = await alerts(service)
    assert alert.level == "urgent" and "suicide" in alert.categories
    clock.advance(minutes=15)
    await service.rt.scheduler.tick()
    assert (await alerts(service))[0].escalations == 1


async def test_web_chat_gives_helplines_at_once_when_the_database_fails(service: Service, slow_db: SlowDatabase) -> None:
    chat = await sam_on_web_chat(service)
    slow_db.failing = True

    sent = await service.client.post(f"{chat}/messages", data={"text": "im going to end it tonight"})  # no script: a whole page
    assert sent.status_code == 200
    assert "If you are not safe, please get help now." in sent.text
    for number in ("999", HELPLINE, "85258", "116 123", "0300 123 4567"):
        assert number in sent.text
    assert "has not gone yet" in sent.text and ">im going to end it tonight</textarea>" in sent.text  # kept to send again
    assert service.rt.lifeline.sent_count == 1

    slow_db.failing = False
    await service.rt.lifeline.settle()
    again = await service.client.post(f"{chat}/messages", data={"text": "im going to end it tonight"}, headers={"HX-Request": "true"})
    assert again.status_code == 200 and "lifeline" not in again.text  # stored: the usual crisis reply follows in the chat
    await service.idle()
    [alert] = await alerts(service)
    assert alert.level == "urgent"


async def test_web_chat_with_a_healthy_database_answers_as_usual(service: Service) -> None:
    chat = await sam_on_web_chat(service)
    sent = await service.client.post(f"{chat}/messages", data={"text": "i want to die"}, headers={"HX-Request": "true"})
    assert sent.status_code == 200 and "i want to die" in sent.text and "lifeline" not in sent.text
    await service.idle()
    assert service.rt.lifeline.sent_count == 0
    page = await service.client.get(chat)
    assert "I have told Jo now" in page.text and HELPLINE in page.text  # the stored crisis reply, in the chat
    [alert] = await alerts(service)
    assert alert.level == "urgent"


async def test_an_urgent_message_to_an_unknown_web_chat_link_is_refused_kindly(service: Service) -> None:
    posted = await service.client.post("/c/wdefinitely-not-a-real-link/messages", data={"text": "i want to die"})
    assert posted.status_code == 404 and "does not work" in posted.text
    assert service.rt.lifeline.sent_count == 0
