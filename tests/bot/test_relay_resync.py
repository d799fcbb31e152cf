"""Several processes on PostgreSQL: when the live relay (LISTEN/NOTIFY) has been cut and reconnects, the
pages connected to this process are told to load what they show again, since other processes' events
published meanwhile never reached them."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.conftest import Service
from tests.e2e.test_telegram_behaviour import until
from tests.e2e.test_telegram_loop import next_event

# LISTEN/NOTIFY is PostgreSQL's: on SQLite there is one process and nothing to relay.
pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


async def cut_the_relay(service: Service) -> int:
    """End the relay's own connection from the database side, as a failover or a network cut would."""
    async with service.rt.engine.connect() as connection:
        ended = await connection.scalar(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND (query ILIKE 'LISTEN%' OR query ILIKE '%pg_notify%')"
        ))
        await connection.commit()
    return int(ended or 0)


async def relay_up(service: Service) -> bool:
    return "live_relay" not in (await service.client.get("/healthz")).json().get("failing", {})


async def test_pages_are_told_to_refresh_after_the_relay_reconnects(service: Service) -> None:
    await service.staff("jo", "Jo")
    console = await service.login("jo")
    await until(lambda: relay_up(service), timeout=10, what="the relay to listen")

    async with console.stream("GET", "/events") as live:
        assert await cut_the_relay(service) == 1
        await next_event(live, "resync", timeout=15)
    await until(lambda: relay_up(service), timeout=10, what="the relay to say it listens again")
    await console.aclose()
