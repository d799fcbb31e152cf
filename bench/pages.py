"""Print how long every console page takes to render on the server, with the demo data.

Seeds the demo data (`keyworker demo`'s: a manager, two key workers, eight young people with a few
weeks of messages, canned replies, a note and an appointment) into a temp SQLite file, signs in as
each role through the real login and two-step code, and requests every console page and panel in
process (ASGI, no network), so the time is the server's: routing, sign-in check, queries,
decryption, template. Prints the median and 90th percentile per page.

Run from the repository root:
    .venv/bin/python bench/pages.py [--runs 30]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pyotp
from sqlalchemy import select, text

from bot.app import create_app
from bot.clock import FrozenClock
from bot.demo import DEMO_PASSWORD, DEMO_TOTP, seed_demo
from bot.services.staff import do_create_staff
from config.settings import Settings
from models import Alert, Appointment, StaffMember, StaffRole, YoungPerson
from models.db import create_engine, create_sessionmaker
from models.migrate import upgrade

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # a Wednesday in working hours
BUDGET_MS = 200
WARM_UPS = 10
ADMIN_TOTP = "KWBENCHADMINTWOSTEPKEYAAAAAAAAAA"


async def sign_in(client: httpx.AsyncClient, username: str, secret: str) -> None:
    """Sign in with the password and the current two-step code; keep the CSRF header."""
    response = await client.post("/login", data={"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 303, (username, response.status_code)
    step = await client.get("/login/2fa")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', step.text).group(1)  # type: ignore[union-attr]
    response = await client.post("/login/2fa", data={"code": pyotp.TOTP(secret).at(NOW), "csrf_token": csrf})
    assert response.status_code == 303, (username, response.status_code)


async def pages_for(app, settings: Settings) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """Name the pages each demo role opens (young people and ids looked up from the demo data)."""
    engine = create_engine(settings.database_url)
    async with create_sessionmaker(engine)() as session:
        jo = await session.scalar(select(StaffMember).where(StaffMember.username == "jo"))
        people = list(await session.scalars(select(YoungPerson).where(YoungPerson.key_worker_id == jo.id)))
        sam = next(p for p in people if p.preferred_name == "Sam")
        appointment = await session.scalar(select(Appointment))
        alert = await session.scalar(select(Alert.id))
    await engine.dispose()
    yp = f"/young-people/{sam.id}"
    paths = set(app.openapi()["paths"])
    jo_pages = [
        "/young-people", "/young-people?q=Sam", "/young-people/new", yp,
        f"{yp}/notes/panel", f"{yp}/timeline/panel", f"{yp}/canned-replies", f"{yp}/reply?canned=1",
        f"{yp}/checkins/panel", f"{yp}/appointments/panel", f"{yp}/wellbeing/panel", f"{yp}/team/panel",
        f"{yp}/safety-plan/panel", f"{yp}/missing/panel", f"{yp}/data/panel",
        f"{yp}/appointments", f"{yp}/wellbeing", f"{yp}/team",
        "/canned-replies", "/alerts", "/duty", f"/staff/{jo.id}", "/account", "/account/telegram",
    ]
    if "/young-people/{young_person_id}/placement/panel" in paths:
        jo_pages.append(f"{yp}/placement/panel")
    if appointment:
        jo_pages.append(f"/young-people/{appointment.young_person_id}/appointments/{appointment.id}/edit")
    if alert:
        jo_pages.append(f"/alerts/{alert}")
    manager_pages = ["/young-people", "/alerts", "/staff"] + (["/dashboard"] if "/dashboard" in paths else [])
    return {"jo": jo_pages, "priya": manager_pages, "ada": ["/admin/staff", "/admin/audit", "/admin/sessions"]}


async def measure(runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{data / 'keyworker.db'}", data_dir=data, secret_key="b" * 40,
            scheduler_interval_seconds=0, public_url="http://127.0.0.1:8000",
        )
        clock = FrozenClock(NOW)
        app = create_app(settings, clock=clock)  # configures the encryption keys the seed needs
        await upgrade(settings.database_url)
        await seed_demo(settings, clock)
        engine = create_engine(settings.database_url)
        async with create_sessionmaker(engine)() as session:
            admin, _ = await do_create_staff(session, NOW, username="ada", display_name="Ada", role=StaffRole.ADMIN, password=DEMO_PASSWORD)
            admin.must_change_password, admin.totp_secret = False, ADMIN_TOTP
            await session.commit()
            started = time.perf_counter()
            for _ in range(20):
                await session.execute(text("SELECT 1"))
            round_trip = (time.perf_counter() - started) / 20 * 1000
        await engine.dispose()
        secrets = {**DEMO_TOTP, "ada": ADMIN_TOTP}
        plan = await pages_for(app, settings)
        print(f"Console pages with the demo data, SQLite, {runs} runs each after {WARM_UPS} warm-ups "
              f"(SELECT 1 round trip {round_trip:.2f} ms)")
        print(f"{'as':6} {'page':52} {'median ms':>10} {'p90 ms':>8}")
        worst = 0.0
        async with app.router.lifespan_context(app):
            for username, paths in plan.items():
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                    await sign_in(client, username, secrets[username])
                    for path in paths:
                        times = []
                        for attempt in range(runs + WARM_UPS):
                            started = time.perf_counter()
                            # The reply box is only ever asked for by htmx (a canned reply going in).
                            htmx = {"hx-request": "true"} if "/reply" in path else {}
                            response = await client.get(path, headers={"accept": "text/html", **htmx})
                            elapsed = (time.perf_counter() - started) * 1000
                            if response.status_code != 200:
                                sys.exit(f"{username} {path}: answered {response.status_code}")
                            if attempt >= WARM_UPS:
                                times.append(elapsed)
                        median = statistics.median(times)
                        p90 = statistics.quantiles(times, n=10)[-1]
                        worst = max(worst, p90)
                        shown = re.sub(r"/young-people/\d+", "/young-people/ID", path)
                        shown = re.sub(r"/(staff|alerts|appointments)/\d+", r"/\1/ID", shown)
                        flag = "" if p90 < BUDGET_MS else f"  over {BUDGET_MS} ms"
                        print(f"{username:6} {shown:52} {median:10.1f} {p90:8.1f}{flag}")
        print(f"slowest p90: {worst:.1f} ms (budget {BUDGET_MS} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    asyncio.run(measure(parser.parse_args().runs))


if __name__ == "__main__":
    main()
