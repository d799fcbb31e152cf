"""Shared fixtures: databases (SQLite and PostgreSQL), the fake Bot API, a running service, personas."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pyotp
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.app import create_app
from bot.clock import FrozenClock
from bot.inbound import settle
from bot.runtime import Runtime
from bot.services.staff import do_create_staff
from bot.services.young_person import do_add_young_person
from config.settings import Settings
from models import Base, Message, StaffMember, StaffRole, YoungPerson
from models.db import execute_autocommit
from models.migrate import upgrade
from tests.fakes.botapi import FakeBotAPI

PG_ENV = "KEYWORKER_TEST_DATABASE_URL"
PASSWORD = "correct-horse-battery"
# A Wednesday inside working hours (10:00 in London).
WORKING_TIME = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def _pg_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if url and url.startswith("postgresql://"):
        url = url.replace("postgresql://", "postgresql+asyncpg://", 1)
    return url


@pytest.fixture(autouse=True, scope="session")
def quick_password_hashing() -> Iterator[None]:
    """Hash test passwords with argon2id at its lowest cost: the real cost is for real passwords."""
    from argon2 import PasswordHasher

    import bot.services.staff as staff_service

    real = staff_service._hasher
    staff_service._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    staff_service._hasher = real


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate one SQLite database once; each test gets a copy."""
    path = tmp_path_factory.mktemp("db") / "template.db"
    asyncio.run(upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def pg_ready() -> Iterator[str]:
    """Make a private database for this run next to KEYWORKER_TEST_DATABASE_URL, migrated once."""
    url = _pg_url()
    if not url:
        pytest.skip(f"PostgreSQL runs skipped: {PG_ENV} is not set (.ci/run sets it)")
    base = make_url(url)
    # A database of our own: runs side by side (a developer and CI, say) never see each other's rows.
    name = f"keyworker_test_{os.getpid()}_{secrets.token_hex(3)}"
    own = base.set(database=name).render_as_string(hide_password=False)

    try:
        asyncio.run(execute_autocommit(url, f'CREATE DATABASE "{name}"'))
    except OSError as exc:
        pytest.skip(f"PostgreSQL runs skipped: cannot reach {PG_ENV} ({exc})")
    asyncio.run(upgrade(own))
    yield own
    asyncio.run(execute_autocommit(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every database test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "keyworker.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url = request.getfixturevalue("pg_ready")
    yield url

    async def truncate() -> None:
        engine = create_async_engine(url)
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        try:
            async with engine.begin() as connection:
                await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        finally:
            await engine.dispose()

    asyncio.run(truncate())


@pytest.fixture(scope="session")
def fake_bot_api_server() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as fake:
        yield fake


@pytest.fixture
def fake_bot_api(fake_bot_api_server: FakeBotAPI) -> Iterator[FakeBotAPI]:
    """The fake Telegram Bot API, cleared for each test."""
    fake_bot_api_server.reset()
    yield fake_bot_api_server
    fake_bot_api_server.reset()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(WORKING_TIME)


@pytest.fixture
def settings(database_url: str, fake_bot_api: FakeBotAPI, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        secret_key="s" * 40,
        telegram_token=fake_bot_api.token,
        telegram_api_url=fake_bot_api.url,
        telegram_poll_timeout=1,
        scheduler_interval_seconds=0,  # tests tick the scheduler themselves, at injected times
        public_url="http://127.0.0.1:8000",
        out_of_hours_phone="0300 123 4567",
    )


class Sleeps:
    """An injected sleep that records what was asked and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        await asyncio.sleep(0)


@dataclass
class Service:
    """A running Keyworker on a real port, with its runtime and an HTTP client."""

    url: str
    rt: Runtime
    client: httpx.AsyncClient
    sleeps: Sleeps
    app: FastAPI
    totp_secrets: dict[str, str] = field(default_factory=dict)

    async def idle(self) -> None:
        """Wait until every reply and download started so far has finished."""
        await settle()
        await self.rt.outbox.drain()

    async def run_jobs(self) -> None:
        """Run every job due now, including jobs those jobs schedule for now, and deliver what they send."""
        while await self.rt.scheduler.tick():
            continue
        await self.idle()

    async def until_stored(self, body: str, attempts: int = 500) -> None:
        """Wait, boundedly, until a message with this body has been stored by the intake."""
        for _ in range(attempts):
            async with self.rt.db() as session:
                # Bodies are encrypted at rest, so they are compared after decryption, here.
                if body in (await session.scalars(select(Message.body))).all():
                    return
            await asyncio.sleep(0.01)
        raise AssertionError(f"no message {body!r} was stored")

    async def staff(self, username: str, name: str, role: StaffRole = StaffRole.KEY_WORKER) -> StaffMember:
        async with self.rt.db() as session:
            member, _ = await do_create_staff(
                session, self.rt.now(), username=username, display_name=name, role=role, password=PASSWORD
            )
            member.must_change_password = False
            member.totp_secret = self.totp_secrets.setdefault(username, pyotp.random_base32())
            await session.commit()
            return member

    def totp_code(self, username: str) -> str:
        """The code the staff member's authenticator app shows now (by the injected clock)."""
        return pyotp.TOTP(self.totp_secrets[username]).at(self.rt.now())

    async def young_person(self, name: str, worker: StaffMember, preferred: str = "") -> YoungPerson:
        async with self.rt.db() as session:
            worker = await session.merge(worker)
            person = await do_add_young_person(
                session, self.rt.now(), full_name=name, preferred_name=preferred, key_worker=worker
            )
            await session.commit()
            return person

    async def login(self, username: str, password: str = PASSWORD) -> httpx.AsyncClient:
        """Return a new client signed in (password, then TOTP code) as this staff member, sending its CSRF token."""
        client = httpx.AsyncClient(base_url=self.url, timeout=10)
        response = await client.post("/login", data={"username": username, "password": password})
        assert response.status_code == 303 and response.headers["location"] == "/login/2fa", response.text
        step = await client.get("/login/2fa")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', step.text).group(1)
        response = await client.post("/login/2fa", data={"code": self.totp_code(username), "csrf_token": csrf})
        assert response.status_code == 303, response.text
        page = await client.get("/young-people")
        token = re.search(r'"X-CSRF-Token": "([^"]+)"', page.text)
        assert token, "signed-in page carries no CSRF token"
        client.headers["X-CSRF-Token"] = token.group(1)
        return client


async def invite_for(client: httpx.AsyncClient, full_name: str, preferred: str = "") -> tuple[int, str]:
    """Add a young person through the console and return their id and invite code."""
    page = await client.post("/young-people", data={"full_name": full_name, "preferred_name": preferred})
    assert page.status_code == 200, page.text
    code = re.search(r'id="invite-code">([^<]+)<', page.text).group(1)
    person_id = int(re.search(r'href="/young-people/(\d+)"', page.text).group(1))
    return person_id, code


async def sam_joins_on_telegram(service: Service, fake_bot_api: FakeBotAPI, chat: int) -> tuple[httpx.AsyncClient, int, int]:
    """Jo adds Sam, who joins on Telegram from this chat; return Jo's signed-in console, Sam's id and Jo's id."""
    jo = await service.staff("jo", "Jo")
    console = await service.login("jo")
    person_id, code = await invite_for(console, "Samira Haddad", "Sam")
    fake_bot_api.push_command(chat, "start", code)
    await fake_bot_api.wait_for_sent_async(chat, count=2, timeout=20)  # one chat's sends are paced; CI is busy
    await service.idle()
    return console, person_id, jo.id


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@contextlib.asynccontextmanager
async def running_service(settings: Settings, clock: FrozenClock, sleeps: Sleeps) -> AsyncIterator[Service]:
    """Run the whole service (polling Telegram against the fake, console, web chat) on a free port until the block ends."""
    app = create_app(settings, clock=clock, sleep=sleeps)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=1)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    app.state.runtime.settings.public_url = url  # invite and web-chat links point at this very server
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            yield Service(url, app.state.runtime, client, sleeps, app)
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def service(settings: Settings, clock: FrozenClock, sleeps: Sleeps) -> AsyncIterator[Service]:
    """The whole service running for one test."""
    async with running_service(settings, clock, sleeps) as running:
        yield running
