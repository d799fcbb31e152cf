"""What the service benches share: a private PostgreSQL database, seeded young people, progress lines."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.engine import make_url

from models import ChannelLink, StaffMember, StaffRole, YoungPerson
from models.channel import address_key
from models.db import create_engine, create_sessionmaker, execute_autocommit

CHAT_BASE = 5_000_000  # young person number i writes from Telegram chat CHAT_BASE + i
CASELOAD = 25
CHUNK = 1000


def progress(label: str, done: int, total: int) -> None:
    end = "\n" if done >= total else ""
    print(f"\r  {label}: {done:,}/{total:,}", end=end, file=sys.stderr, flush=True)


def _private_database(base_url: str) -> tuple[str, str, str]:
    """Name a database of our own next to base_url: (admin url, name, its url)."""
    base_url = base_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    name = f"keyworker_bench_{os.getpid()}_{secrets.token_hex(3)}"
    return base_url, name, make_url(base_url).set(database=name).render_as_string(hide_password=False)


@asynccontextmanager
async def private_postgres_async(base_url: str) -> AsyncIterator[str]:
    """Create a database of our own next to base_url (as the tests do) and drop it afterwards."""
    admin, name, url = _private_database(base_url)
    await execute_autocommit(admin, f'CREATE DATABASE "{name}"')
    try:
        yield url
    finally:
        await execute_autocommit(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def private_postgres(base_url: str) -> Iterator[str]:
    """The same, for benches that run their own event loops inside it."""
    admin, name, url = _private_database(base_url)
    asyncio.run(execute_autocommit(admin, f'CREATE DATABASE "{name}"'))
    try:
        yield url
    finally:
        asyncio.run(execute_autocommit(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def seed_people(url: str, count: int, now: datetime, channel: str = "telegram") -> list[tuple[int, int]]:
    """Add key workers (25 young people each) and young people linked on a channel; return (young person, worker) ids.

    Encrypted columns need crypto configured first (as the service does at start).
    """
    engine = create_engine(url)
    db = create_sessionmaker(engine)
    people: list[tuple[int, int]] = []
    try:
        async with db() as session, session.begin():
            workers = (
                await session.scalars(
                    insert(StaffMember).returning(StaffMember.id),
                    [
                        {"username": f"bench{i}", "display_name": f"Worker {i}", "role": StaffRole.KEY_WORKER,
                         "password_hash": "-", "created_at": now - timedelta(days=30)}
                        for i in range((count + CASELOAD - 1) // CASELOAD)
                    ],
                )
            ).all()
        for start in range(0, count, CHUNK):
            size = min(CHUNK, count - start)
            async with db() as session, session.begin():
                rows = [
                    {"full_name": f"Young Person {start + i}", "preferred_name": f"YP{start + i}",
                     "key_worker_id": workers[(start + i) // CASELOAD], "created_at": now - timedelta(days=30),
                     "linked_at": now - timedelta(days=30)}
                    for i in range(size)
                ]
                ids = (await session.scalars(insert(YoungPerson).returning(YoungPerson.id, sort_by_parameter_order=True), rows)).all()
                await session.execute(
                    insert(ChannelLink),
                    [{"young_person_id": yp, "kind": channel, "address": str(CHAT_BASE + start + i),
                      "address_key": address_key(str(CHAT_BASE + start + i)), "linked_at": now - timedelta(days=30)}
                     for i, yp in enumerate(ids)],
                )
                people.extend((yp, row["key_worker_id"]) for yp, row in zip(ids, rows, strict=True))
            progress("seeding young people", start + size, count)
    finally:
        await engine.dispose()
    return people
