"""Bulk-seed a council-sized service for bench/dashboard.py: rows made in Python, written in bulk.

Rows bypass the ORM (2,000,000 messages through it would take the bench's whole budget): names, notes
and message extras are encrypted once and the same ciphertext is written to every row, so the columns
look as they do in the service; message bodies are left empty (the dashboard never reads them).
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from bot.services.checkin import THIRD_MISSED
from models.crypto import EncryptedJSON, EncryptedText

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # a Wednesday, as in the tests
WEEKS = 26
START = NOW - timedelta(weeks=WEEKS)
CHUNK = 20_000
CATEGORIES = ["self_harm", "suicide", "abuse", "exploitation", "missing", "substances"]


def _secret(value: Any, kind: type) -> str:
    return kind().process_bind_param(value, None)  # type: ignore[no-any-return]


def _at(rng: random.Random) -> datetime:
    return START + timedelta(seconds=rng.uniform(0, (NOW - START).total_seconds()))


class World:
    """Every row of the seeded service, made lazily table by table (ids are assigned here)."""

    def __init__(self, scale: float, seed: int = 5) -> None:
        self.rng = random.Random(seed)
        self.people = max(10, int(10_000 * scale))
        self.staff = max(5, int(500 * scale))
        self.messages = int(2_000_000 * scale)
        self.workers = list(range(1, int(self.staff * 0.96) + 1))  # the rest are managers
        self.worker_of = {p: self.workers[(p - 1) % len(self.workers)] for p in range(1, self.people + 1)}
        self.name = _secret("Bench Person", EncryptedText)
        self.note = _secret("", EncryptedText)
        self.meta = _secret({}, EncryptedJSON)

    def staff_rows(self) -> Iterator[dict[str, Any]]:
        for i in range(1, self.staff + 1):
            yield {"id": i, "username": f"staff{i}", "display_name": f"Worker {i:04d}", "role": "key_worker" if i in self.worker_of.values() or i <= len(self.workers) else "manager",
                   "password_hash": "x", "must_change_password": False, "active": True,
                   "working_hours": {d: ["09:00", "17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
                   "failed_logins": 0, "created_at": START}

    def people_rows(self) -> Iterator[dict[str, Any]]:
        rng = self.rng
        for p in range(1, self.people + 1):
            created = START - timedelta(days=rng.randint(0, 400))
            yield {"id": p, "full_name": self.name, "preferred_name": self.name, "name_index": "", "key_worker_id": self.worker_of[p],
                   "language": "en", "quiet_start": "21:30", "quiet_end": "08:00", "created_at": created, "linked_at": created + timedelta(days=1),
                   "opted_out_at": _at(rng) if rng.random() < 0.02 else None}

    def channel_rows(self) -> Iterator[dict[str, Any]]:
        for p in range(1, self.people + 1):
            blocked = self.rng.random() < 0.03
            yield {"id": p, "young_person_id": p, "kind": "telegram", "address": self.name, "address_key": f"bench{p}", "status": "unreachable" if blocked else "active",
                   "unreachable_since": _at(self.rng) if blocked else None, "linked_at": START}

    def message_rows(self) -> Iterator[dict[str, Any]]:
        rng, per_person, mid = self.rng, self.messages // self.people, 0
        for p in range(1, self.people + 1):
            worker, made, rows = self.worker_of[p], 0, []
            while made < per_person:
                at = _at(rng)
                for _ in range(rng.choice((1, 1, 2, 3))):
                    rows.append((at, "in", "young_person", None, None))
                    at += timedelta(seconds=rng.randint(5, 600))
                if rng.random() < 0.3:
                    rows.append((at + timedelta(seconds=1), "out", "bot", None, "out_of_hours"))
                if rng.random() < 0.97:
                    delay = rng.choice((rng.uniform(60, 7200), rng.uniform(60, 7200), rng.uniform(7200, 86400), rng.uniform(86400, 4 * 86400)))
                    rows.append((at + timedelta(seconds=delay), "out", "staff", worker, None))
                made = len(rows)
            for at, direction, sender, staff_id, purpose in sorted(rows[:per_person], key=lambda r: r[0]):
                mid += 1
                yield {"id": mid, "young_person_id": p, "direction": direction, "sender_kind": sender, "staff_id": staff_id, "channel": "telegram",
                       "content_kind": "text", "body": None, "meta": self.meta, "purpose": purpose, "delivery_status": "received" if direction == "in" else "sent",
                       "created_at": at, "sent_at": at if direction == "out" else None}

    def checkin_rows(self) -> Iterator[dict[str, Any]]:
        rng, cid = self.rng, 0
        for p in range(1, self.people + 1):
            for week in range(WEEKS):
                for day in (0, 3):
                    sent = START + timedelta(weeks=week, days=day, hours=rng.randint(0, 2))
                    if sent >= NOW:
                        continue
                    cid, roll = cid + 1, rng.random()
                    answered = roll < 0.6
                    yield {"id": cid, "young_person_id": p, "source": "scheduled", "sent_at": sent,
                           "answered_at": sent + timedelta(minutes=rng.randint(1, 600)) if answered else None,
                           "answer": ("good_news" if rng.random() < 0.05 else "mood") if answered else None,
                           "mood": rng.randint(1, 5) if answered else None, "missed": 0.6 <= roll < 0.9,
                           "missed_at": sent + timedelta(hours=12) if 0.6 <= roll < 0.9 else None}

    def appointment_rows(self) -> Iterator[dict[str, Any]]:
        rng, aid = self.rng, 0
        for p in range(1, self.people + 1):
            for fortnight in range(WEEKS // 2 + 1):
                aid += 1
                starts = START + timedelta(weeks=2 * fortnight, days=rng.randint(0, 13), hours=rng.randint(9, 16))
                status = "scheduled" if starts > NOW else rng.choices(("attended", "missed", "cancelled"), (70, 18, 12))[0]
                yield {"id": aid, "young_person_id": p, "created_by_id": self.worker_of[p], "what": self.note, "starts_at": starts,
                       "place": self.note, "with_whom": self.note, "notes": self.note, "status": status, "revision": 1, "reminders": ["1d@18:00"],
                       "answer": "yes" if rng.random() < 0.5 else None, "created_at": starts - timedelta(days=10), "updated_at": starts - timedelta(days=10)}

    def job_rows(self) -> Iterator[dict[str, Any]]:
        jid = 0
        for appointment in self.appointment_rows():
            if appointment["starts_at"] > NOW or self.rng.random() < 0.2:
                continue
            jid += 1
            due = appointment["starts_at"] - timedelta(hours=20)
            yield {"id": jid, "kind": "appointment_reminder", "key": f"appt:{appointment['id']}:r1:1d@18:00", "young_person_id": appointment["young_person_id"],
                   "due_at": due, "state": "done", "payload": {"appointment_id": appointment["id"], "revision": 1}, "attempts": 1, "created_at": due - timedelta(days=5)}

    def alert_rows(self) -> Iterator[dict[str, Any]]:
        rng = self.rng
        for aid in range(1, 2 * self.people + 1):
            raised = _at(rng)
            acked = raised + timedelta(seconds=rng.expovariate(1 / 600)) if rng.random() < 0.9 else None
            yield {"id": aid, "young_person_id": rng.randint(1, self.people), "level": rng.choice(("urgent", "concern", "concern")),
                   "categories": rng.sample(CATEGORIES, rng.randint(1, 2)), "source": "message", "raised_at": raised, "acknowledged_at": acked,
                   "escalations": 0 if acked and (acked - raised).total_seconds() < 900 else rng.randint(1, 4)}

    def missing_rows(self) -> Iterator[dict[str, Any]]:
        rng = self.rng
        for eid in range(1, self.people // 2 + 1):
            started = _at(rng)
            yield {"id": eid, "young_person_id": rng.randint(1, self.people), "started_at": started, "note": self.note, "messages_sent": 2,
                   "first_contact_at": started + timedelta(minutes=rng.randint(5, 2000)) if rng.random() < 0.8 else None,
                   "ended_at": started + timedelta(hours=rng.randint(2, 48)), "end_note": self.note}

    def wellbeing_rows(self) -> Iterator[tuple[str, dict[str, Any]]]:
        rng, rid, answer_id = self.rng, 0, 0
        for p in range(1, self.people + 1):
            for month in range(WEEKS // 4):
                at = START + timedelta(weeks=4 * month, days=rng.randint(0, 27), hours=12)
                rid += 1
                yield "wellbeing_responses", {"id": rid, "young_person_id": p, "questionnaire": "feelings", "language": "en", "trigger": "scheduled",
                                              "status": "complete", "started_at": at, "updated_at": at, "completed_at": at,
                                              "scores": {"mood": rng.randint(1, 5), "sleep": rng.randint(1, 5), "people": rng.randint(1, 5)}}
                rid += 1
                yield "wellbeing_responses", {"id": rid, "young_person_id": p, "questionnaire": "listened", "language": "en", "trigger": "scheduled",
                                              "status": "complete", "started_at": at, "updated_at": at, "completed_at": at, "scores": {}}
                answer_id += 1
                yield "wellbeing_answers", {"id": answer_id, "response_id": rid, "question": "listened", "position": 1,
                                            "value": rng.choice((2, 2, 1, 0)), "skipped": False, "answered_at": at}

    def other_rows(self) -> Iterator[tuple[str, dict[str, Any]]]:
        rng = self.rng
        for i in range(1, self.people // 20 + 1):
            p = rng.randint(1, self.people)
            other = rng.choice(self.workers)
            yield "handovers", {"id": i, "young_person_id": p, "from_staff_id": other, "to_staff_id": self.worker_of[p], "by_staff_id": other,
                                "at": _at(rng), "note": self.note}
        for p in range(1, self.people + 1):
            yield "team_members", {"id": p, "young_person_id": p, "staff_id": rng.choice(self.workers), "role": "life coach", "added_at": START}
        for i in range(1, self.staff // 5 + 1):
            start = _at(rng)
            yield "leave_periods", {"id": i, "staff_id": rng.choice(self.workers), "cover_id": rng.choice(self.workers), "starts_on": start.date(),
                                    "ends_on": (start + timedelta(days=7)).date(), "created_at": start, "cover_started_at": start,
                                    "cover_ended_at": start + timedelta(days=7)}
        for i in range(1, int(self.people * 0.3) + 1):
            yield "placement_moves", {"id": i, "young_person_id": rng.randint(1, self.people), "moved_at": _at(rng), "recorded_by_id": 1,
                                      "note": self.note, "created_at": NOW}

    def tables(self) -> Iterator[tuple[str, int, Iterator[tuple[str, dict[str, Any]]]]]:
        """Name each table with roughly how many rows it gets, and its rows."""
        def one(name: str, rows: Iterator[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
            return ((name, row) for row in rows)
        p = self.people
        yield "staff", self.staff, one("staff", self.staff_rows())
        yield "young_people", p, one("young_people", self.people_rows())
        yield "channel_links", p, one("channel_links", self.channel_rows())
        yield "messages", self.messages, one("messages", self.message_rows())
        yield "checkins", p * WEEKS * 2, one("checkins", self.checkin_rows())
        yield "appointments", p * (WEEKS // 2 + 1), one("appointments", self.appointment_rows())
        yield "jobs", p * (WEEKS // 2), one("jobs", self.job_rows())
        yield "alerts", 2 * p, one("alerts", self.alert_rows())
        yield "missing_episodes", p // 2, one("missing_episodes", self.missing_rows())
        yield "wellbeing", p * (WEEKS // 4) * 3, self.wellbeing_rows()
        yield "handovers, teams, leave, moves", p // 20 + p + self.staff // 5 + int(p * 0.3), self.other_rows()


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console)


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, bool):
        return int(value)
    return value


def _reminded(dialect: str) -> str:
    """Mark the appointments whose reminder job is done, as sending the reminder does (job and flag are seeded apart)."""
    appointment_id = (
        "CAST(json_extract(j.payload, '$.appointment_id') AS REAL)" if dialect == "sqlite"
        else "CAST((j.payload->>'appointment_id') AS DOUBLE PRECISION)"
    )
    return (
        "UPDATE appointments SET reminder_sent = TRUE WHERE EXISTS (SELECT 1 FROM jobs j WHERE j.kind = 'appointment_reminder' "
        f"AND j.state = 'done' AND j.young_person_id = appointments.young_person_id AND {appointment_id} = appointments.id)"
    )


def seed_sqlite(path: Path, scale: float, console: Console) -> dict[str, int]:
    """Write the world into a migrated SQLite file with executemany, in chunks."""
    world, counts = World(scale), {}
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous=OFF")
    with _progress(console) as bar:
        for label, expected, rows in world.tables():
            task = bar.add_task(f"SQLite {label}", total=expected)
            batches: dict[str, list[dict[str, Any]]] = {}
            for table, row in rows:
                batch = batches.setdefault(table, [])
                batch.append(row)
                if len(batch) >= CHUNK:
                    _flush_sqlite(connection, table, batch)
                    bar.advance(task, len(batch))
                    counts[table] = counts.get(table, 0) + len(batch)
                    batches[table] = []
            for table, batch in batches.items():
                if batch:
                    _flush_sqlite(connection, table, batch)
                    bar.advance(task, len(batch))
                    counts[table] = counts.get(table, 0) + len(batch)
            bar.update(task, total=bar.tasks[task].completed)
    connection.execute(_reminded("sqlite"))
    connection.execute(THIRD_MISSED)  # misses in a row, as answering or missing each check-in judges them
    connection.execute("ANALYZE")
    connection.commit()
    connection.close()
    return counts


def _complete(table: str, rows: list[dict[str, Any]]) -> list[str]:
    """Fill columns the bench does not set with their model's plain default, so new columns need no change here."""
    import models

    columns = list(rows[0])
    for column in models.Base.metadata.tables[table].columns:
        if column.name not in columns and column.default is not None and column.default.is_scalar:
            columns.append(column.name)
            for row in rows:
                row[column.name] = column.default.arg
    return columns


def _flush_sqlite(connection: sqlite3.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    columns = _complete(table, rows)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"  # noqa: S608 - our own names
    connection.executemany(sql, [tuple(_sqlite_value(r[c]) for c in columns) for r in rows])


async def seed_postgres(url: str, scale: float, console: Console) -> dict[str, int]:
    """Write the world into a migrated PostgreSQL database with COPY, in chunks."""
    import asyncpg

    world, counts = World(scale), {}
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        with _progress(console) as bar:
            for label, expected, rows in world.tables():
                task = bar.add_task(f"PostgreSQL {label}", total=expected)
                batches: dict[str, list[dict[str, Any]]] = {}
                for table, row in rows:
                    batch = batches.setdefault(table, [])
                    batch.append(row)
                    if len(batch) >= CHUNK:
                        await _copy(connection, table, batch)
                        bar.advance(task, len(batch))
                        counts[table] = counts.get(table, 0) + len(batch)
                        batches[table] = []
                for table, batch in batches.items():
                    if batch:
                        await _copy(connection, table, batch)
                        bar.advance(task, len(batch))
                        counts[table] = counts.get(table, 0) + len(batch)
                bar.update(task, total=bar.tasks[task].completed)
        await connection.execute(_reminded("postgresql"))
        await connection.execute(THIRD_MISSED)  # misses in a row, as answering or missing each check-in judges them
        await connection.execute("VACUUM ANALYZE")  # as autovacuum would have: index-only scans need the visibility map
    finally:
        await connection.close()
    return counts


async def _copy(connection: Any, table: str, rows: list[dict[str, Any]]) -> None:
    columns = _complete(table, rows)
    records = [tuple(json.dumps(v) if isinstance(v, (dict, list)) else v for v in (r[c] for c in columns)) for r in rows]
    await connection.copy_records_to_table(table, records=records, columns=columns)
