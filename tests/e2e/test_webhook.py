"""Webhook mode: Telegram pushes updates to /telegram/webhook, accepted only with the secret token."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from config.settings import Settings
from models import InboundReceipt
from tests.conftest import Service
from tests.e2e.test_telegram_behaviour import STRANGER_CHAT, FlakyRisk, count, fast_telegram, stored  # noqa: F401
from tests.e2e.test_telegram_loop import SAM_CHAT, invite_for
from tests.fakes.botapi import FakeBotAPI

pytestmark = pytest.mark.usefixtures("fast_telegram")

HOOK_URL = "https://keyworker.example.org/telegram/webhook"
SECRET = "hook-secret_0123456789abcdef"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test settings, in webhook mode (the `service` fixture then runs without polling)."""
    return settings.model_copy(
        update={"telegram_webhook_url": HOOK_URL, "telegram_webhook_secret": SecretStr(SECRET)}
    )


async def post(service: Service, update: dict[str, Any], secret: str | None = SECRET) -> httpx.Response:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return await service.client.post("/telegram/webhook", json=update, headers=headers)


async def test_startup_sets_the_webhook_and_only_requests_with_its_secret_are_heard(
    service: Service, fake_bot_api: FakeBotAPI
) -> None:
    assert service.rt.settings.mode == "webhook"
    [call] = fake_bot_api.calls("setWebhook")
    assert call["params"]["url"] == HOOK_URL and call["params"]["secret_token"] == SECRET
    assert fake_bot_api.webhook["url"] == HOOK_URL
    assert fake_bot_api.calls("getUpdates") == []

    update = fake_bot_api.push_text(STRANGER_CHAT, "let me in")
    for secret in (None, "", "wrong-secret-0123456789", SECRET + "x", SECRET[:-1]):
        response = await post(service, update, secret)
        assert response.status_code == 403, secret
    await service.idle()
    assert await count(service, InboundReceipt) == 0
    assert fake_bot_api.sent_messages() == []

    assert (await post(service, update)).status_code == 200
    assert "ask your worker" in (await fake_bot_api.wait_for_sent_async(STRANGER_CHAT))[0]["text"]


async def test_a_young_person_links_and_talks_through_the_webhook_and_duplicates_count_once(
    service: Service, fake_bot_api: FakeBotAPI
) -> None:
    fake = fake_bot_api
    await service.staff("jo", "Jo")
    console = await service.login("jo")
    sam_id, code = await invite_for(console, "Samira Haddad", "Sam")

    assert (await post(service, fake.push_command(SAM_CHAT, "start", code))).status_code == 200
    welcome = await fake.wait_for_sent_async(SAM_CHAT, count=2)
    assert "Hi Sam" in welcome[0]["text"]

    # Telegram sends an update again when unsure it arrived, even while the first is being handled.
    update = fake.push_text(SAM_CHAT, "hi jo, it's me on the webhook")
    stranger = fake.push_text(STRANGER_CHAT, "who is this")
    answers = await asyncio.gather(*(post(service, u) for u in (update, update, update, stranger, stranger)))
    assert [answer.status_code for answer in answers] == [200] * 5
    assert (await post(service, update)).status_code == 200  # and again later
    await service.idle()

    page = (await console.get(f"/young-people/{sam_id}")).text
    assert page.count("hi jo, it&#39;s me on the webhook") == 1
    assert await stored(service, "on the webhook") == 1
    assert len(fake.sent_messages(STRANGER_CHAT)) == 1  # the kind answer, once

    response = await console.post(
        f"/young-people/{sam_id}/messages", data={"body": "Got it!"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert (await fake.wait_for_sent_async(SAM_CHAT, count=3))[2]["text"] == "Jo:\nGot it!"


async def test_an_update_that_fails_is_refused_so_telegram_sends_it_again_and_nothing_is_lost(
    service: Service, fake_bot_api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    fake = fake_bot_api
    await service.staff("jo", "Jo")
    console = await service.login("jo")
    sam_id, code = await invite_for(console, "Samira Haddad", "Sam")
    assert (await post(service, fake.push_command(SAM_CHAT, "start", code))).status_code == 200

    service.rt.risk = risk = FlakyRisk("my secret words")
    update = fake.push_text(SAM_CHAT, "my secret words, sent when things broke")
    server_log = logging.getLogger("uvicorn.error")
    server_log.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO):
            assert (await post(service, update)).status_code == 500
    finally:
        server_log.removeHandler(caplog.handler)
    assert await stored(service, "my secret words") == 0
    logged = "\n".join(record.getMessage() + (record.exc_text or "") for record in caplog.records)
    assert f"update {update['update_id']} not handled" in logged and "secret words" not in logged

    risk.failing = False  # Telegram tries again later
    assert (await post(service, update)).status_code == 200
    assert "my secret words, sent when things broke" in (await console.get(f"/young-people/{sam_id}")).text
