"""Fixtures for fault tests that run real service processes and a PostgreSQL of their own."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.migrate import upgrade
from tests.faults.postgres import PrivatePostgres


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    """A migrated PostgreSQL cluster on a free loopback port, which the test may stop and start."""
    pg = PrivatePostgres().init()
    try:
        pg.start()
        asyncio.run(upgrade(pg.url))
        yield pg
    finally:
        pg.remove()


@pytest.fixture(params=["sqlite", "postgresql"])
def fault_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database of the test's own: SQLite, then a private PostgreSQL cluster."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'keyworker.db'}"
        asyncio.run(upgrade(url))
        return url
    return request.getfixturevalue("private_pg").url
