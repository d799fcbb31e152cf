"""Print how long one young person's chronology export takes to gather and write, for a long record.

Seeds one young person on SQLite (a temp file) with years of history: messages every day (both ways),
check-ins three times a week, a monthly wellbeing questionnaire, appointments, alerts with actions,
missing episodes, placement moves and flags; then times build_chronology, render_html and render_csv.

Run from the repository root:
    .venv/bin/python bench/chronology_export.py [--years 3] [--messages-a-day 20] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from bot.keys import load_keyring
from bot.services.chronology import build_chronology, render_csv, render_html
from config.settings import Settings
from models import (
    Alert, AlertAction, Appointment, CheckIn, Flag, Message, MissingEpisode, PlacementMove, StaffMember, StaffRole,
    WellbeingResponse, YoungPerson,
)
from models import crypto
from models.db import create_engine, create_sessionmaker
from models.migrate import upgrade

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
TZ = ZoneInfo("Europe/London")


async def seed(db, years: int, per_day: int) -> int:  # type: ignore[no-untyped-def]
    """Put one young person with a long record in the database; return their id."""
    async with db() as session:
        jo = StaffMember(username="jo", display_name="Jo", role=StaffRole.KEY_WORKER, password_hash="x", created_at=NOW)
        session.add(jo)
        await session.flush()
        sam = YoungPerson(full_name="Samira Haddad", preferred_name="Sam", key_worker_id=jo.id, created_at=NOW - timedelta(days=365 * years))
        session.add(sam)
        await session.flush()
        days = 365 * years
        messages = [
            {"young_person_id": sam.id, "direction": "in" if n % 2 else "out", "sender_kind": "young_person" if n % 2 else "staff",
             "staff_id": None if n % 2 else jo.id, "body": "words", "delivery_status": "sent",
             "created_at": NOW - timedelta(days=d, minutes=n * 7)}
            for d in range(days) for n in range(per_day)
        ]
        for start in range(0, len(messages), 2000):
            await session.execute(insert(Message), messages[start:start + 2000])
        for d in range(0, days, 2):
            session.add(CheckIn(young_person_id=sam.id, source="scheduled", sent_at=NOW - timedelta(days=d), answer="mood", mood=3,
                                answered_at=NOW - timedelta(days=d)))
        for m in range(12 * years):
            at = NOW - timedelta(days=30 * m)
            session.add(WellbeingResponse(young_person_id=sam.id, questionnaire="ons4", language="en", trigger="scheduled", status="complete",
                                          started_at=at, updated_at=at, completed_at=at, scores={"life": 6, "overall": 6}))
            session.add(Appointment(young_person_id=sam.id, created_by_id=jo.id, what="Review", starts_at=at, status="attended",
                                    outcome_by_id=jo.id, outcome_at=at, created_at=at, updated_at=at))
            session.add(Flag(young_person_id=sam.id, kind="wants_contact", raised_at=at, cleared_at=at, cleared_by_id=jo.id))
            alert = Alert(young_person_id=sam.id, level="concern", categories=["self_harm"], source="message", raised_at=at)
            session.add(alert)
            await session.flush()
            session.add(AlertAction(alert_id=alert.id, staff_id=jo.id, kind="action", note="Rang them", at=at))
        for q in range(4 * years):
            at = NOW - timedelta(days=90 * q)
            session.add(MissingEpisode(young_person_id=sam.id, started_at=at, started_by_id=jo.id, ended_at=at + timedelta(hours=5)))
            session.add(PlacementMove(young_person_id=sam.id, moved_at=at, recorded_by_id=jo.id, note="Moved", created_at=at))
        await session.commit()
        return sam.id


async def main(years: int, per_day: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        crypto.configure(load_keyring(Settings(database_url=url, data_dir=Path(folder), secret_key="b" * 40)))
        await upgrade(url)
        engine = create_engine(url)
        db = create_sessionmaker(engine)
        person_id = await seed(db, years, per_day)
        timings: dict[str, list[float]] = {"gather": [], "html": [], "csv": []}
        entries = 0
        for _ in range(runs):
            async with db() as session:
                began = time.perf_counter()
                person = await session.get(YoungPerson, person_id)
                chronology = await build_chronology(session, NOW, person, TZ)  # type: ignore[arg-type]
                timings["gather"].append(time.perf_counter() - began)
            began = time.perf_counter()
            html = render_html(chronology, TZ)
            timings["html"].append(time.perf_counter() - began)
            began = time.perf_counter()
            render_csv(chronology, TZ)
            timings["csv"].append(time.perf_counter() - began)
            entries = len(chronology.entries)
        await engine.dispose()
    print(f"{years} years, {per_day * 365 * years:,} messages: {entries:,} entries, HTML {len(html) / 1e6:.1f} MB")
    for name, values in timings.items():
        print(f"  {name}: median {statistics.median(values) * 1000:,.0f} ms over {runs} runs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--messages-a-day", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.years, args.messages_a_day, args.runs))
