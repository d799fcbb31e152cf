"""kill -9 of the service in the middle of inbound load, then a restart: every update the Bot API handed
over is stored exactly once, and every reminder that fell due is sent (at least once, stored once)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from models import Message
from tests.faults.world import (
    FIRST_CHAT, ServiceProcess, World, count_messages, reminded, seed, sent_reminders, stored_bodies, until,
)
from tests.fakes.botapi import FakeBotAPI

YOUNG_PEOPLE = 5


async def test_kill_9_under_load_then_restart_loses_nothing_and_stores_nothing_twice(
    tmp_path: Path, fault_database_url: str
) -> None:
    database_url = fault_database_url
    with FakeBotAPI() as fake:
        world = World.make(tmp_path, database_url, fake.url, fake.token)
        people = await seed(world, YOUNG_PEOPLE, reminders_in=4)
        first = ServiceProcess(world, "first", tmp_path).start()
        second = ServiceProcess(world, "second", tmp_path)
        try:
            await first.until_up()
            words = [f"message {n} to my worker" for n in range(240)]
            pushed = [fake.push_text(FIRST_CHAT + n % YOUNG_PEOPLE, text) for n, text in enumerate(words)]
            start = pushed[0]["update_id"]

            async def some_handled() -> bool:
                return fake.confirmed_offset > start + 30

            await until(some_handled, 60, "the first updates to be taken")
            first.kill()  # in the middle of the load (and perhaps of a reminder)
            assert fake.pending_updates(), "the load was over before the kill: nothing was tested"
            # Telegram keeps writing while the service is down.
            later = [f"sent while it was down {n}" for n in range(40)]
            pushed += [fake.push_text(FIRST_CHAT + n % YOUNG_PEOPLE, text) for n, text in enumerate(later)]

            second.start()
            await second.until_up()
            last = pushed[-1]["update_id"]

            async def all_taken() -> bool:
                return fake.confirmed_offset > last and not fake.pending_updates()

            await until(all_taken, 60, "every update to be taken after the restart")

            await until(lambda: reminded(world, YOUNG_PEOPLE), 60, "every reminder to be run and sent")
        finally:
            first.stop()
            second.stop()

        stored = Counter(await stored_bodies(world))
        assert [text for text in words + later if stored[text] != 1] == [], "lost or stored twice"
        assert sum(stored.values()) == len(words) + len(later)
        # Each reminder is stored once and reached its chat; twice at most, if the kill fell mid-send.
        assert await count_messages(world, Message.purpose == "appointment.reminder") == YOUNG_PEOPLE
        for chat in people.chats:
            got = sent_reminders(fake.sent_texts(chat), chat)
            assert 1 <= len(got) <= 2, (chat, got)
