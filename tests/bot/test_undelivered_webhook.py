"""Webhook mode: an update that keeps failing is answered 500 a few times, then kept aside and answered 200,
so Telegram stops re-sending it; a database outage is answered 500 for as long as it lasts."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from sqlalchemy.exc import OperationalError

from config.settings import Settings
from tests.bot.test_undelivered import ATTEMPTS, POISON, Poison, kept
from tests.conftest import Service
from tests.e2e.test_telegram_behaviour import fast_telegram, stored  # noqa: F401 - fast_telegram is a fixture
from tests.e2e.test_telegram_loop import SAM_CHAT, invite_for
from tests.e2e.test_webhook import HOOK_URL, SECRET, post
from tests.fakes.botapi import FakeBotAPI

pytestmark = pytest.mark.usefixtures("fast_telegram")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"telegram_webhook_url": HOOK_URL, "telegram_webhook_secret": SecretStr(SECRET)})


async def sam_links(service: Service, fake: FakeBotAPI) -> int:
    await service.staff("jo", "Jo")
    console = await service.login("jo")
    person_id, code = await invite_for(console, "Samira Haddad", "Sam")
    assert (await post(service, fake.push_command(SAM_CHAT, "start", code))).status_code == 200
    await service.idle()
    return person_id


async def test_a_webhook_update_that_keeps_failing_is_kept_and_answered_200(
    service: Service, fake_bot_api: FakeBotAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    sam_id = await sam_links(service, fake_bot_api)
    poison = Poison(monkeypatch)
    update = fake_bot_api.push_text(SAM_CHAT, POISON)

    answers = [(await post(service, update)).status_code for _ in range(ATTEMPTS + 2)]
    assert answers == [500] * (ATTEMPTS - 1) + [200, 200, 200]  # kept on the last try; a re-send is a no-op
    assert poison.tries == ATTEMPTS
    [row] = await kept(service)
    assert row.young_person_id == sam_id and row.update_id == update["update_id"]
    assert await stored(service, POISON) == 0


async def test_a_webhook_update_waits_out_a_database_outage(
    service: Service, fake_bot_api: FakeBotAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    await sam_links(service, fake_bot_api)
    outage = OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))
    Poison(monkeypatch, error=outage, fail_times=ATTEMPTS * 2)
    update = fake_bot_api.push_text(SAM_CHAT, POISON)

    answers = [(await post(service, update)).status_code for _ in range(ATTEMPTS * 2 + 1)]
    assert answers == [500] * (ATTEMPTS * 2) + [200]
    await service.idle()
    assert await stored(service, POISON) == 1 and await kept(service) == []
