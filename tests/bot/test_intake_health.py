"""Long polling: getUpdates failing several times in a row shows in /healthz and /readyz, and clears by itself."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

import bot.channels.telegram as telegram_channel
from tests.conftest import Service
from tests.e2e.test_telegram_behaviour import fast_telegram, handled, link_sam, stored, until  # noqa: F401
from tests.e2e.test_telegram_loop import SAM_CHAT
from tests.fakes.botapi import FakeBotAPI

pytestmark = pytest.mark.usefixtures("fast_telegram")


class Gate:
    """The poller's backoff, unwaited, except that it holds once it has backed off `hold_at` times."""

    def __init__(self, hold_at: int) -> None:
        self.hold_at = hold_at
        self.open = asyncio.Event()
        self.held = asyncio.Event()

    async def __call__(self, failures: int) -> None:
        if failures >= self.hold_at:
            self.held.set()
            await self.open.wait()
        await asyncio.sleep(0)


@pytest.fixture
def gate(fast_telegram: list[int], monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:  # noqa: F811
    held = Gate(hold_at=3)
    monkeypatch.setattr(telegram_channel, "_backoff", held)  # read when the service starts: listed before it
    yield held
    held.open.set()


async def reports(service: Service) -> tuple[dict[str, Any], dict[str, Any], int]:
    health = (await service.client.get("/healthz")).json()
    ready = await service.client.get("/readyz")
    return health, ready.json(), ready.status_code


async def test_get_updates_failing_in_a_row_shows_as_degraded_intake_then_recovers(
    gate: Gate, service: Service, fake_bot_api: FakeBotAPI
) -> None:
    fake = fake_bot_api
    await link_sam(service, fake)
    health, _, _ = await reports(service)
    assert health["status"] == "ok", health

    fake.fail_next("getUpdates", status=502, times=3)
    await asyncio.wait_for(gate.held.wait(), 10)  # three failures in a row: the poller is backing off
    health, ready, status = await reports(service)
    assert health["status"] == "degraded" and "telegram_intake" in health["failing"], health
    assert "getUpdates failed 3 times in a row" in health["failing"]["telegram_intake"]["error"]
    assert ready["status"] == "degraded" and "telegram_intake" in ready["failing"]
    assert status == 200  # the database answers: this process can still serve the console and web chat

    gate.open.set()
    await handled(service, fake, fake.push_text(SAM_CHAT, "are you there?"))
    assert await stored(service, "are you there?") == 1

    async def healthy() -> bool:
        return (await reports(service))[0]["status"] == "ok"

    await until(healthy, what="/healthz to say ok again")


async def test_a_failure_or_two_is_not_reported(gate: Gate, service: Service, fake_bot_api: FakeBotAPI) -> None:
    fake = fake_bot_api
    await link_sam(service, fake)
    gate.hold_at = 2
    fake.fail_next("getUpdates", status=502, times=2)
    await asyncio.wait_for(gate.held.wait(), 10)  # two failures in a row, and backing off
    health, _, _ = await reports(service)
    assert health["status"] == "ok", health
    gate.open.set()
    await handled(service, fake, fake.push_text(SAM_CHAT, "a blip"))
