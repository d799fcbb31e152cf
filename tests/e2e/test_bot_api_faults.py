"""The Bot API having a bad few minutes (5xx, hanging requests, 429): every reply still arrives, once,
in the order the worker wrote it; /healthz says Telegram is failing meanwhile and /metrics counts it."""

from __future__ import annotations

import asyncio
import re

import pytest

from config.settings import Settings
from tests.conftest import Service, Sleeps
from tests.e2e.test_telegram_behaviour import delivery, fast_telegram, link_sam, reply, until  # noqa: F401
from tests.e2e.test_telegram_loop import SAM_CHAT, invite_for
from tests.fakes.botapi import FakeBotAPI

pytestmark = pytest.mark.usefixtures("fast_telegram")

LEE_CHAT = 5550123


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test settings, giving up on a Bot API call after 3 s (so a hanging call is a timeout)."""
    return settings.model_copy(update={"telegram_send_timeout": 3.0})


class GatedSleeps(Sleeps):
    """The injected sleep, returning at once unless the test closes the gate to look around meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()
        self.asleep = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.asleep.set()
        await self.gate.wait()


@pytest.fixture
def sleeps() -> GatedSleeps:
    return GatedSleeps()


def figure(text: str, name: str) -> float:
    """Read one sample from a Prometheus text page."""
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    assert found, f"no {name} in /metrics"
    return float(found.group(1))


async def test_replies_outlast_server_errors_timeouts_and_flood_control_in_order(
    service: Service, fake_bot_api: FakeBotAPI
) -> None:
    fake = fake_bot_api
    console, sam_id = await link_sam(service, fake)
    lee_id, code = await invite_for(console, "Lee Carter", "Lee")
    fake.push_command(LEE_CHAT, "start", code)
    await fake.wait_for_sent_async(LEE_CHAT, count=2)
    await service.idle()
    before = {chat: len(fake.sent_messages(chat)) for chat in (SAM_CHAT, LEE_CHAT)}

    # Telegram hangs once, answers 502 and 500, then asks us to slow down: eight bad answers in a row.
    fake.stall_next("sendMessage", seconds=6)
    fake.fail_next("sendMessage", status=502, times=3)
    fake.fail_next("sendMessage", status=429, retry_after=7, times=2)
    fake.fail_next("sendMessage", status=500, times=1)
    fake.fail_next("sendMessage", status=503, times=1)
    written = {SAM_CHAT: [], LEE_CHAT: []}
    for n in range(4):
        for chat, person_id in ((SAM_CHAT, sam_id), (LEE_CHAT, lee_id)):
            words = f"note {n} for chat {chat}"
            written[chat].append(f"Jo:\n{words}")
            await reply(console, person_id, words)

    for chat in (SAM_CHAT, LEE_CHAT):
        await fake.wait_for_sent_async(chat, count=before[chat] + 4, timeout=30)
    await service.idle()

    # Nothing lost, nothing twice, each chat in the order written.
    for chat in (SAM_CHAT, LEE_CHAT):
        assert fake.sent_texts(chat)[before[chat]:] == written[chat]
    # The hung call gives up (504) after the client did; nobody acted on it.
    await until(lambda: None not in [call["status"] for call in fake.calls("sendMessage")], timeout=20, what="the hung call to end")
    statuses = [call["status"] for call in fake.calls("sendMessage")]
    assert {504, 502, 500, 503, 429} <= set(statuses)
    assert 7 in service.sleeps.calls  # Telegram's retry_after was honoured
    backoffs = [seconds for seconds in service.sleeps.calls if seconds != 7]
    assert 1 in backoffs and max(backoffs) >= 2  # and server errors backed off, doubling
    page = (await console.get(f"/young-people/{sam_id}")).text
    assert all(delivery(page, f"note {n} for chat {SAM_CHAT}") == "Sent" for n in range(4))

    figures = (await service.client.get("/metrics")).text
    assert figure(figures, 'keyworker_messages_delivered_total{channel="telegram",status="sent"}') >= 8
    assert figure(figures, 'keyworker_delivery_retries_total{reason="rate_limited"}') == 2
    assert figure(figures, 'keyworker_delivery_retries_total{reason="server_error"}') >= 6
    assert figure(figures, "keyworker_outbox_pending") == 0


async def test_health_says_telegram_is_failing_while_a_reply_waits_to_be_retried(
    service: Service, fake_bot_api: FakeBotAPI, sleeps: GatedSleeps
) -> None:
    fake = fake_bot_api
    console, sam_id = await link_sam(service, fake)

    async def healthy() -> bool:  # on PostgreSQL, once the live relay listens
        return (await service.client.get("/healthz")).json()["status"] == "ok"

    await until(healthy, timeout=10, what="the service to be healthy")

    sleeps.gate.clear()  # the outbox's next backoff lasts until we open the gate
    sleeps.asleep.clear()
    fake.fail_next("sendMessage", status=502)
    await reply(console, sam_id, "See you at 3")
    await asyncio.wait_for(sleeps.asleep.wait(), timeout=10)

    health = (await service.client.get("/healthz")).json()
    assert health["status"] == "degraded" and health["database"] == "ok", health
    assert "502" in health["failing"]["telegram"]["error"] or "Bad Gateway" in health["failing"]["telegram"]["error"]
    ready = await service.client.get("/readyz")
    assert ready.status_code == 200  # Telegram trouble is no reason to take this process out of service
    assert "Telegram is not answering just now" in (await console.get("/young-people")).text  # Jo is told too
    assert figure((await service.client.get("/metrics")).text, "keyworker_outbox_pending") == 1

    sleeps.gate.set()
    await service.idle()
    assert fake.sent_texts(SAM_CHAT)[-1] == "Jo:\nSee you at 3"
    assert (await service.client.get("/healthz")).json() == {"status": "ok", "database": "ok", "mode": "polling"}
    assert "Telegram is not answering" not in (await console.get("/young-people")).text
