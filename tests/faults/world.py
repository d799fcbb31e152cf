"""Real `keyworker serve` processes for fault tests (started, killed with SIGKILL, restarted), and the
people they serve, seeded straight into the database with the same keys."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pyotp
from sqlalchemy import func, select

from bot.keys import load_keyring
from bot.scheduler import do_schedule_job
from bot.services.appointment_reminder import REMINDER
from bot.services.staff import do_create_staff
from bot.services.young_person import do_add_young_person
from config.settings import Settings
from models import Appointment, ChannelLink, ChannelStatus, Job, JobState, Message, StaffRole, crypto
from models.crypto import new_data_key, new_index_key
from models.db import create_engine, create_sessionmaker

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery"
FIRST_CHAT = 7770001


def free_port() -> int:
    """Ask the system for a free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class World:
    """One deployment's settings as KEYWORKER_* variables, shared by every process and by the test."""

    env: dict[str, str]
    totp: str = field(default_factory=pyotp.random_base32)

    @classmethod
    def make(cls, tmp: Path, database_url: str, bot_api_url: str, token: str, **extra: str) -> World:
        env = {
            "KEYWORKER_DATABASE_URL": database_url,
            "KEYWORKER_DATA_DIR": str(tmp),
            "KEYWORKER_SECRET_KEY": "s" * 40,
            "KEYWORKER_ENCRYPTION_KEYS": new_data_key(),
            "KEYWORKER_INDEX_KEY": new_index_key(),
            "KEYWORKER_TELEGRAM_TOKEN": token,
            "KEYWORKER_TELEGRAM_API_URL": bot_api_url,
            "KEYWORKER_TELEGRAM_POLL_TIMEOUT": "1",
            "KEYWORKER_SCHEDULER_INTERVAL_SECONDS": "0.5",
            "KEYWORKER_CLAIM_LEASE_SECONDS": "2",
            **extra,
        }
        return cls(env)

    def settings(self) -> Settings:
        return Settings(**{name.removeprefix("KEYWORKER_").lower(): value for name, value in self.env.items()})  # type: ignore[arg-type]

    def use_keys(self) -> None:
        """Read and write the database in this test process with the deployment's own keys."""
        crypto.configure(load_keyring(self.settings()))


class ServiceProcess:
    """`keyworker serve` in a process of its own, on a free loopback port, logging to a file."""

    def __init__(self, world: World, name: str, log_dir: Path, **extra_env: str) -> None:
        self.world, self.name = world, name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **world.env, "KEYWORKER_PUBLIC_URL": self.url, **extra_env}
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", "from bot.cli import main; main()", "serve", "--port", str(self.port)],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )
        return self

    async def until_up(self, timeout: float = 60) -> None:
        """Wait until the process answers /healthz; fail with its log if it died or never answered."""
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as client:
            while asyncio.get_running_loop().time() < deadline:
                assert self.proc is not None and self.proc.poll() is None, f"{self.name} exited:\n{self.log()}"
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass  # not listening yet: ask again shortly
                await asyncio.sleep(0.1)
        raise AssertionError(f"{self.name} did not answer within {timeout} s:\n{self.log()}")

    def kill(self) -> None:
        """kill -9: no shut-down, no flush, nothing finished."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Stop gracefully if still running (bounded), else kill."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""


@dataclass
class People:
    """Jo and the young people on her caseload, each linked to a Telegram chat, with an appointment."""

    jo_id: int
    chats: dict[int, int]  # chat id -> young person id


async def seed(world: World, count: int, *, reminders_in: float | None = None) -> People:
    """Add Jo and `count` young people linked to Telegram, without quiet hours; optionally a reminder each, due soon."""
    world.use_keys()
    engine = create_engine(world.env["KEYWORKER_DATABASE_URL"])
    now = datetime.now(UTC)
    try:
        async with create_sessionmaker(engine)() as session:
            jo, _ = await do_create_staff(
                session, now, username="jo", display_name="Jo", role=StaffRole.KEY_WORKER, password=PASSWORD
            )
            jo.must_change_password = False
            jo.totp_secret = world.totp
            chats = {}
            for n in range(count):
                person = await do_add_young_person(session, now, full_name=f"Young Person {n}", preferred_name=f"YP{n}", key_worker=jo)
                person.quiet_start = person.quiet_end = "00:00"  # the test runs at any hour
                chat = FIRST_CHAT + n
                session.add(ChannelLink(young_person_id=person.id, kind="telegram", address=str(chat), status=ChannelStatus.ACTIVE, linked_at=now))
                chats[chat] = person.id
            await session.commit()
            people = People(jo.id, chats)
    finally:
        await engine.dispose()
    if reminders_in is not None:
        await add_reminders(world, people, reminders_in)
    return people


async def add_reminders(world: World, people: People, due_in: float) -> None:
    """Give each young person an appointment in 3 hours whose reminder falls due in `due_in` seconds."""
    world.use_keys()
    engine = create_engine(world.env["KEYWORKER_DATABASE_URL"])
    now = datetime.now(UTC)
    due = now + timedelta(seconds=due_in)
    try:
        async with create_sessionmaker(engine)() as session:
            for chat, person_id in people.chats.items():
                appointment = Appointment(
                    young_person_id=person_id, created_by_id=people.jo_id, what=f"Dentist visit {chat - FIRST_CHAT}",
                    starts_at=now + timedelta(hours=3), reminders=["2h"], created_at=now, updated_at=now,
                )
                session.add(appointment)
                await session.flush()
                await do_schedule_job(
                    session, now, kind=REMINDER, key=f"appt:{appointment.id}:r1:2h", due_at=due,
                    young_person_id=person_id,
                    payload={"appointment_id": appointment.id, "revision": 1, "planned_at": due.isoformat()},
                )
            await session.commit()
    finally:
        await engine.dispose()


async def stored_bodies(world: World) -> list[str]:
    """Every stored inbound message's words, read back decrypted."""
    world.use_keys()
    engine = create_engine(world.env["KEYWORKER_DATABASE_URL"])
    try:
        async with create_sessionmaker(engine)() as session:
            return [body or "" for body in await session.scalars(select(Message.body).where(Message.direction == "in"))]
    finally:
        await engine.dispose()


async def count_messages(world: World, *where: object) -> int:
    """Count stored messages matching the conditions."""
    world.use_keys()
    engine = create_engine(world.env["KEYWORKER_DATABASE_URL"])
    try:
        async with create_sessionmaker(engine)() as session:
            return await session.scalar(select(func.count()).select_from(Message).where(*where)) or 0  # type: ignore[arg-type]
    finally:
        await engine.dispose()


async def login(url: str, world: World, username: str = "jo") -> httpx.AsyncClient:
    """Sign in to a process's console (password, then the current TOTP code) and return the client."""
    client = httpx.AsyncClient(base_url=url, timeout=10)
    response = await client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 303, response.text
    step = await client.get("/login/2fa")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', step.text).group(1)  # type: ignore[union-attr]
    response = await client.post("/login/2fa", data={"code": pyotp.TOTP(world.totp).now(), "csrf_token": csrf})
    assert response.status_code == 303, response.text
    return client


async def until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    """Wait, boundedly, for a condition that a running process brings about."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.1)


async def reminded(world: World, count: int) -> bool:
    """Say whether every reminder job is done and `count` reminders were sent."""
    engine = create_engine(world.env["KEYWORKER_DATABASE_URL"])
    try:
        async with create_sessionmaker(engine)() as session:
            states = list(await session.scalars(select(Job.state).where(Job.kind == REMINDER)))
    finally:
        await engine.dispose()
    sent = await count_messages(world, Message.purpose == "appointment.reminder", Message.delivery_status == "sent")
    return bool(states) and all(state == JobState.DONE for state in states) and sent == count


def sent_reminders(fake_texts: list[str], chat: int) -> list[str]:
    """The reminder texts a chat received (each names its own appointment)."""
    return [text for text in fake_texts if f"Dentist visit {chat - FIRST_CHAT}" in text]
