"""An update that keeps failing is kept aside for the young person's worker, so it holds nobody else up;
a database outage never sets anything aside (bot/intake.py)."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from sqlalchemy import Text, select, type_coerce
from sqlalchemy.exc import OperationalError

import bot.inbound
import handlers
from handlers.turn import Turn
from models import Alert, UndeliveredUpdate
from tests.conftest import Service
from tests.e2e.test_telegram_behaviour import (  # noqa: F401 - fast_telegram is a fixture
    STRANGER_CHAT, count, fast_telegram, handled, link_sam, stored,
)
from tests.e2e.test_telegram_loop import SAM_CHAT, invite_for
from tests.fakes.botapi import FakeBotAPI

pytestmark = pytest.mark.usefixtures("fast_telegram")

LEE_CHAT = 5550002
POISON = "this one breaks something, sorry"
ATTEMPTS = 5  # KEYWORKER_TELEGRAM_UPDATE_ATTEMPTS' default


class Poison:
    """Put in front of every handler: fails for one text, as a bug meeting an unusual message would."""

    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, text: str = POISON,
        error: type[Exception] | Exception = KeyError, fail_times: int = 10_000,
    ) -> None:
        self.tries = 0
        first = handlers.HANDLERS[0]

        async def poisoned(turn: Turn) -> bool:
            if turn.event.text == text and self.tries < fail_times:
                self.tries += 1
                raise error if isinstance(error, Exception) else error("quoting: " + text)
            return await first(turn)

        monkeypatch.setattr(bot.inbound, "HANDLERS", [poisoned, *handlers.HANDLERS[1:]])


async def kept(service: Service) -> list[UndeliveredUpdate]:
    async with service.rt.db() as session:
        return list(await session.scalars(select(UndeliveredUpdate).order_by(UndeliveredUpdate.id)))


async def health(service: Service) -> dict[str, Any]:
    return (await service.client.get("/healthz")).json()


async def link_lee(service: Service, fake: FakeBotAPI, console: httpx.AsyncClient) -> int:
    lee_id, code = await invite_for(console, "Lee Carter", "Lee")
    fake.push_command(LEE_CHAT, "start", code)
    await fake.wait_for_sent_async(LEE_CHAT, count=2)
    await service.idle()
    return lee_id


async def test_one_update_that_keeps_failing_is_kept_for_the_worker_and_holds_nobody_up(
    service: Service, fake_bot_api: FakeBotAPI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake = fake_bot_api
    console, sam_id = await link_sam(service, fake)
    await link_lee(service, fake, console)
    poison = Poison(monkeypatch)

    with caplog.at_level(logging.INFO):
        poisoned = fake.push_text(SAM_CHAT, POISON)
        lees = fake.push_text(LEE_CHAT, "lee here, all good")
        after = fake.push_text(SAM_CHAT, "and this came after it")
        # Lee's message is another chat's: stored at once, while Sam's first one is still being retried.
        await service.until_stored("lee here, all good")
        await handled(service, fake, poisoned, lees, after)

    # Tried (on its own, after any batch it was in) as many times as allowed, then kept.
    assert poison.tries >= ATTEMPTS
    assert await stored(service, "lee here, all good") == 1
    assert await stored(service, "and this came after it") == 1  # Sam's next message, in order, after it
    assert await stored(service, POISON) == 0
    [row] = await kept(service)
    assert (row.update_id, row.young_person_id, row.failures) == (poisoned["update_id"], sam_id, ATTEMPTS)
    assert row.error.startswith("KeyError at ") and POISON not in row.error
    async with service.rt.db() as session:  # encrypted at rest: the database never holds the words
        ciphertext = await session.scalar(select(type_coerce(UndeliveredUpdate.raw, Text)))
    assert POISON not in ciphertext and str(SAM_CHAT) not in ciphertext

    # Jo sees it: on the caseload, and the words on Sam's page.
    assert "A message could not be processed" in (await console.get("/young-people")).text
    panel = (await console.get(f"/young-people/{sam_id}/undelivered/panel")).text
    assert "A message could not be processed" in panel and POISON in panel
    ali_client = await _other_worker(service)
    assert (await ali_client.get(f"/young-people/{sam_id}/undelivered/panel")).status_code == 404
    report = await health(service)
    assert report["status"] == "degraded" and "undelivered_updates" in report["failing"], report
    assert "keyworker_updates_kept_aside 1.0" in (await service.client.get("/metrics")).text  # monitoring sees it too

    # Logs name the update and the error, never the words.
    assert f"update telegram:{poisoned['update_id']} failed {ATTEMPTS} times (KeyError at " in caplog.text
    assert POISON not in caplog.text

    # Redelivered later (Telegram re-sends, another process polls): nothing more happens.
    tries = poison.tries
    fake.push_update(poisoned)
    await handled(service, fake, poisoned)
    assert poison.tries == tries and len(await kept(service)) == 1

    # Jo marks it handled: gone from the page, the caseload and /healthz.
    done = await console.post(f"/young-people/{sam_id}/undelivered/handled", data={"undelivered_id": row.id}, headers={"HX-Request": "true"})
    assert done.status_code == 200 and POISON not in done.text
    assert "A message could not be processed" not in (await console.get("/young-people")).text
    assert (await health(service))["status"] == "ok"
    assert "keyworker_updates_kept_aside 0.0" in (await service.client.get("/metrics")).text


async def _other_worker(service: Service) -> httpx.AsyncClient:
    await service.staff("ali", "Ali")
    return await service.login("ali")


async def test_urgent_words_in_an_update_that_cannot_be_processed_still_alert_a_person(
    service: Service, fake_bot_api: FakeBotAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = fake_bot_api
    console, sam_id = await link_sam(service, fake)
    Poison(monkeypatch, "i want to kill myself tonight")
    await handled(service, fake, fake.push_text(SAM_CHAT, "i want to kill myself tonight"))

    [row] = await kept(service)
    assert row.risk_level == "urgent"
    assert await count(service, Alert, Alert.young_person_id == sam_id) == 1
    assert "Risk: urgent" in (await console.get(f"/young-people/{sam_id}/undelivered/panel")).text


async def test_a_database_outage_never_sets_an_update_aside(
    service: Service, fake_bot_api: FakeBotAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = fake_bot_api
    await link_sam(service, fake)
    outage = OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))
    poison = Poison(monkeypatch, error=outage, fail_times=ATTEMPTS * 3)
    update = fake.push_text(SAM_CHAT, POISON)
    await handled(service, fake, update)

    assert poison.tries == ATTEMPTS * 3  # tried again and again while "the database" was away
    assert await stored(service, POISON) == 1  # then stored as usual, once
    assert await kept(service) == []
    assert (await health(service))["status"] == "ok"


async def test_an_unlinked_chat_s_update_is_kept_for_administrators(
    service: Service, fake_bot_api: FakeBotAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from models import StaffRole

    fake = fake_bot_api
    await service.staff("ada", "Ada", StaffRole.ADMIN)
    Poison(monkeypatch)
    await handled(service, fake, fake.push_text(STRANGER_CHAT, POISON))

    [row] = await kept(service)
    assert row.young_person_id is None
    admin = await service.login("ada")
    page = (await admin.get("/admin/undelivered")).text
    assert POISON in page and "KeyError at " in page
    assert (await health(service))["status"] == "degraded"
    done = await admin.post("/admin/undelivered/handled", data={"undelivered_id": row.id})
    assert done.status_code == 303
    assert POISON not in (await admin.get("/admin/undelivered")).text
    assert (await health(service))["status"] == "ok"
