"""Run Alembic migrations programmatically, from the command line or from tests."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

from models.db import create_engine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(database_url: str) -> Config:
    """Build the Alembic configuration for one database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


async def upgrade(database_url: str, engine: AsyncEngine | None = None) -> None:
    """Bring the database schema up to the newest revision."""
    config = alembic_config(database_url)
    owned = engine is None
    engine = engine or create_engine(database_url)
    try:
        async with engine.begin() as connection:
            config.attributes["connection"] = connection
            await connection.run_sync(lambda sync: _upgrade(config, sync))
    finally:
        if owned:
            await engine.dispose()


def _upgrade(config: Config, connection: object) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def revision(database_url: str, message: str) -> None:
    """Autogenerate a new revision from the models (for developers)."""
    asyncio.run(upgrade(database_url))
    command.revision(alembic_config(database_url), message=message, autogenerate=True)


def regenerate_initial(database_url: str = "sqlite+aiosqlite:///:memory:") -> None:
    """Rewrite the initial revision from the models (only until the first release is deployed)."""
    target = MIGRATIONS / "versions" / "0001_initial_schema.py"
    target.unlink(missing_ok=True)
    command.revision(alembic_config(database_url), message="initial schema", autogenerate=True, rev_id="0001")


if __name__ == "__main__":
    regenerate_initial()
