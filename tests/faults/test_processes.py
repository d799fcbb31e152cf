"""Two service processes on one PostgreSQL database in webhook mode, as behind a load balancer:
updates split between them are stored once, a worker watching one process sees what arrived at the
other (LISTEN/NOTIFY), and each scheduled reminder goes out once."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from models import Message
from tests.e2e.test_telegram_loop import next_event
from tests.faults.postgres import PrivatePostgres
from tests.faults.world import (
    FIRST_CHAT, ServiceProcess, World, count_messages, login, reminded, seed, sent_reminders, stored_bodies, until,
)
from tests.fakes.botapi import FakeBotAPI

SECRET = "hook-secret_0123456789abcdef"
HOOK = {"KEYWORKER_TELEGRAM_WEBHOOK_URL": "https://keyworker.example.org/telegram/webhook", "KEYWORKER_TELEGRAM_WEBHOOK_SECRET": SECRET}
YOUNG_PEOPLE = 4


async def post(client: httpx.AsyncClient, update: dict[str, Any]) -> None:
    """Deliver an update as Telegram does: again and again until it is answered 200."""
    response = await client.post("/telegram/webhook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert response.status_code == 200, response.text


async def healthy(url: str) -> bool:
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        return (await client.get("/healthz")).json()["status"] == "ok"


async def test_two_processes_share_updates_live_events_and_jobs(tmp_path: Path, private_pg: PrivatePostgres) -> None:
    with FakeBotAPI() as fake:
        world = World.make(tmp_path, private_pg.url, fake.url, fake.token, **HOOK)
        people = await seed(world, YOUNG_PEOPLE, reminders_in=8)
        a = ServiceProcess(world, "a", tmp_path).start()
        b = ServiceProcess(world, "b", tmp_path).start()
        try:
            await a.until_up()
            await b.until_up()
            for process in (a, b):  # each listening for the other's live events
                await until(lambda process=process: healthy(process.url), 30, f"{process.name} to be healthy")

            console = await login(a.url, world)
            sam_chat = FIRST_CHAT
            async with (
                httpx.AsyncClient(base_url=a.url, timeout=10) as to_a,
                httpx.AsyncClient(base_url=b.url, timeout=10) as to_b,
                console.stream("GET", f"/events?young_person={people.chats[sam_chat]}", timeout=30) as live,
            ):
                # A worker watching Sam's conversation on process A; Sam's message arrives at process B.
                await post(to_b, fake.push_text(sam_chat, "hi jo, this came in through b"))
                shown = await next_event(live, "message", "this came in through b", timeout=20)
                assert "hi jo, this came in through b" in shown

                # The load balancer splits the updates; Telegram re-sends some to the other process too.
                words = [f"update {n} for the worker" for n in range(60)]
                updates = [fake.push_text(FIRST_CHAT + n % YOUNG_PEOPLE, text) for n, text in enumerate(words)]
                await asyncio.gather(*(post(to_a if n % 2 else to_b, u) for n, u in enumerate(updates)))
                await asyncio.gather(*(post(to_b if n % 2 else to_a, u) for n, u in enumerate(updates[::5])))

            await until(lambda: reminded(world, YOUNG_PEOPLE), 60, "every reminder to be run and sent")
            await console.aclose()
        finally:
            a.stop()
            b.stop()

        stored = Counter(await stored_bodies(world))
        assert stored["hi jo, this came in through b"] == 1
        assert [text for text in words if stored[text] != 1] == []
        # Both processes ran the scheduler; each reminder reached its chat once.
        assert await count_messages(world, Message.purpose == "appointment.reminder") == YOUNG_PEOPLE
        for chat in people.chats:
            assert len(sent_reminders(fake.sent_texts(chat), chat)) == 1, chat
