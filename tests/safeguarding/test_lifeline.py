"""An urgent message gets help and raises an alert even when the database is slow or failing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

from bot.clock import FrozenClock
from tests.conftest import Service
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

