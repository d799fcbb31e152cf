"""PostgreSQL stopped for ten seconds under load, then started: the service says it is degraded
meanwhile (/healthz, /readyz, /metrics), recovers by itself, and loses nothing."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import func, select

from models import Message, UndeliveredUpdate
from models.db import create_engine
from tests.faults.postgres import PrivatePostgres
from tests.faults.world import (
    FIRST_CHAT, ServiceProcess, World, add_reminders, count_messages, reminded, seed, sent_reminders, stored_bodies, until,
)
from tests.fakes.botapi import FakeBotAPI

YOUNG_PEOPLE = 4
OUTAGE_SECONDS = 10


async def kept_aside(world: World) -> int:
    """Count the updates set aside as undelivered (bot/intake.py)."""
    world.use_keys()
    engine = create_engine(world.env["KEYWORKER_DATABASE_URL"])
    try:
        async with engine.connect() as connection:
            return await connection.scalar(select(func.count()).select_from(UndeliveredUpdate)) or 0
    finally:
        await engine.dispose()


async def test_a_database_outage_under_load_is_reported_and_recovered_from_without_loss(
    tmp_path: Path, private_pg: PrivatePostgres
) -> None:
    with FakeBotAPI() as fake:
        # Any update failing once for a reason other than the database would be set aside at once.
        world = World.make(tmp_path, private_pg.url, fake.url, fake.token, KEYWORKER_TELEGRAM_UPDATE_ATTEMPTS="1")
        people = await seed(world, YOUNG_PEOPLE)
        service = ServiceProcess(world, "service", tmp_path).start()
        try:
            await service.until_up()
            async with httpx.AsyncClient(base_url=service.url, timeout=10) as client:

                async def healthy() -> bool:
                    return (await client.get("/healthz")).json()["status"] == "ok"

                await until(healthy, 30, "the service to be healthy")
                words = [f"before the outage {n}" for n in range(120)]
                pushed = [fake.push_text(FIRST_CHAT + n % YOUNG_PEOPLE, text) for n, text in enumerate(words)]
                await add_reminders(world, people, due_in=2)  # falling due while the database is away

                async def some_taken() -> bool:
                    return fake.confirmed_offset > pushed[0]["update_id"] + 10

                await until(some_taken, 30, "the first updates to be taken")
                private_pg.stop()
                stopped = asyncio.get_running_loop().time()
                during = [f"during the outage {n}" for n in range(40)]
                pushed += [fake.push_text(FIRST_CHAT + n % YOUNG_PEOPLE, text) for n, text in enumerate(during)]

                health = (await client.get("/healthz")).json()
                ready = await client.get("/readyz")
                figures = (await client.get("/metrics")).text
                assert health["status"] == "degraded" and health["database"].startswith("unreachable"), health
                assert ready.status_code == 503 and ready.json()["status"] == "degraded"
                assert "keyworker_database_up 0.0" in figures

                await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (asyncio.get_running_loop().time() - stopped)))
                private_pg.start()

                async def ready_again() -> bool:
                    return (await client.get("/readyz")).status_code == 200

                await until(ready_again, 30, "/readyz to say ready again")
                last = pushed[-1]["update_id"]

                async def all_taken() -> bool:
                    return fake.confirmed_offset > last and not fake.pending_updates()

                await until(all_taken, 60, "every update to be taken after the outage")
                await until(lambda: reminded(world, YOUNG_PEOPLE), 60, "every reminder to be run and sent")
                await until(healthy, 30, "the service to say it is healthy again")
        finally:
            service.stop()

        stored = Counter(await stored_bodies(world))
        assert [text for text in words + during if stored[text] != 1] == [], "lost or stored twice"
        assert await kept_aside(world) == 0  # an outage is waited out, however long: never a reason to set one aside
        assert await count_messages(world, Message.purpose == "appointment.reminder") == YOUNG_PEOPLE
        for chat in people.chats:
            assert len(sent_reminders(fake.sent_texts(chat), chat)) == 1, chat
        # The outage was logged by ids and error names only: never a young person's words.
        log = service.log_path.read_text(errors="replace")
        assert "unavailable" in log or "failed" in log
        assert not [text for text in words + during if text in log]
