"""Hand-built worlds for the indicator tests: rows written straight into SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.keys import load_keyring
from bot.services.checkin import mark_misses_in_a_row
from bot.services.indicators import Dashboard, Scope, compute_dashboard, make_period
from config.settings import Settings
from models import (
    CheckIn,
    DeliveryStatus,
    Direction,
    Message,
    SenderKind,
    StaffMember,
    StaffRole,
    YoungPerson,
    crypto,
)
from models.db import create_engine, create_sessionmaker

LONDON = ZoneInfo("Europe/London")


def utc(*parts: int) -> datetime:
    """A UTC moment: utc(2026, 11, 2, 9, 30)."""
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@dataclass
class World:
    """Adds staff, young people and what happened to them, then computes the dashboard."""

    db: async_sessionmaker[AsyncSession]

    async def add(self, *rows: Any) -> None:
        async with self.db() as session:
            session.add_all(rows)
            if any(isinstance(row, CheckIn) for row in rows):
                await session.flush()  # check-ins made by hand are judged as answering or missing each one would
                await mark_misses_in_a_row(session)
            await session.commit()

    async def staff(self, name: str, role: StaffRole = StaffRole.KEY_WORKER) -> StaffMember:
        person = StaffMember(
            username=name.lower(), display_name=name, role=role, password_hash="x", must_change_password=False,
            created_at=utc(2026, 1, 1),
        )
        await self.add(person)
        return person

    async def young_person(self, name: str, worker: StaffMember, created_at: datetime = utc(2026, 1, 1), **extra: Any) -> YoungPerson:
        person = YoungPerson(full_name=name, preferred_name=name, key_worker_id=worker.id, created_at=created_at, **extra)
        await self.add(person)
        return person

    def said(self, person: YoungPerson, at: datetime) -> Message:
        """A young person's message."""
        return Message(
            young_person_id=person.id, direction=Direction.INBOUND, sender_kind=SenderKind.YOUNG_PERSON,
            body="hello", delivery_status=DeliveryStatus.RECEIVED, created_at=at,
        )

    def replied(self, person: YoungPerson, by: StaffMember, at: datetime) -> Message:
        """A staff member's message."""
        return Message(
            young_person_id=person.id, direction=Direction.OUTBOUND, sender_kind=SenderKind.STAFF, staff_id=by.id,
            body="hi", delivery_status=DeliveryStatus.SENT, created_at=at,
        )

    def bot(self, person: YoungPerson, at: datetime) -> Message:
        """The bot's own message (an out-of-hours answer): never a reply from a person."""
        return Message(
            young_person_id=person.id, direction=Direction.OUTBOUND, sender_kind=SenderKind.BOT, purpose="out_of_hours",
            body="auto", delivery_status=DeliveryStatus.SENT, created_at=at,
        )

    async def dashboard(
        self, first: date, last: date, now: datetime, scope: Scope = Scope(), only: tuple[str, ...] = (), tables: bool = False,
        own: int | None = None,
    ) -> Dashboard:
        period = make_period("custom", first, LONDON, first, last)
        async with self.db() as session:
            return await compute_dashboard(session, period, scope, now, only, tables=tables, own=own)


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    settings = Settings(database_url=database_url, data_dir=tmp_path, secret_key="s" * 40, public_url="http://127.0.0.1:8000")
    crypto.configure(load_keyring(settings))
    engine = create_engine(database_url)
    try:
        yield World(create_sessionmaker(engine))
    finally:
        await engine.dispose()
