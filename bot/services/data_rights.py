"""Data rights: what is held about a young person, the subject access export, and erasure."""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import ColumnElement, Table, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.audit import do_audit
from bot.services.flag import do_raise_flag
from bot.services.message import staff_names
from bot.services.team import watchers
from models import Alert, Base, Direction, Flag, Job, JobState, Message, StaffMember, YoungPerson
from models.base import UTCDateTime

Erase = Literal["anonymise", "delete"]
FORMAT = "keyworker-subject-access-1"
COPY_FLAG = "data_request"
EXPORT_TEMPLATES = Path(__file__).resolve().parents[2] / "console" / "templates" / "exports"
NOT_SHOWN = {"young_person_id", "prev_hash", "hash"}  # in the JSON, but only noise on the readable page


@dataclass(frozen=True)
class Section:
    """One table's rows about a young person: how they are found, exported and erased."""

    table: str
    # (column here, parent table) for rows that hang off a parent's rows rather than the young person.
    parent: tuple[str, str] | None = None
    hidden: frozenset[str] = frozenset()  # never exported: secrets and raw bytes
    blank: dict[str, Any] = field(default_factory=dict)  # anonymising overwrites these columns
    drop: bool = False  # anonymising deletes these rows outright
    keep: bool = False  # erasing never touches these rows (the append-only audit log)
    staff: tuple[str, ...] = ()  # staff id columns without a foreign key, named in the export too


# Names go; language, quiet hours and times stay for the figures.
ERASED = {"full_name": "Erased record", "preferred_name": "Erased", "name_index": ""}

# Every table holding something about one young person, in the order the export reads. A table in neither this nor
# NOT_ABOUT_ONE_YOUNG_PERSON stops the export and erasure (and fails tests/bot/test_export.py).
SECTIONS: dict[str, Section] = {
    s.table: s
    for s in (
        Section("young_people", hidden=frozenset({"name_index"}), blank=ERASED),  # keyed hashes of their name
        Section("channel_links", drop=True),  # a web chat's address is a token hash: see _exported
        Section("invites", hidden=frozenset({"code_hash"}), drop=True),  # no invite may link an erased record
        Section("messages", hidden=frozenset({"claimed_by"}), blank={"body": None, "meta": {}, "external_id": None, "delivery_error": None}),
        Section("media", parent=("message_id", "messages"), hidden=frozenset({"data"}), drop=True),
        Section("conversation_states", drop=True),
        Section("checkin_schedules", drop=True),
        Section("checkins"),
        Section("wellbeing_plans"),
        Section("wellbeing_responses"),
        Section("wellbeing_answers", parent=("response_id", "wellbeing_responses"), blank={"text": None}),
        Section("appointments", blank={"what": "", "place": "", "with_whom": "", "notes": ""}),
        Section("alerts"),
        Section("alert_actions", parent=("alert_id", "alerts"), blank={"note": None}),
        Section("safety_plans", drop=True),
        Section("flags", blank={"detail": {}}),
        Section("missing_episodes", blank={"note": "", "end_note": ""}),
        Section("placement_moves", blank={"note": None}),
        Section("team_members"),
        Section("handovers", blank={"note": ""}),
        # Staff's private notes are personal data about the young person: exported with the rest, gone when erased.
        Section("notes", drop=True),
        # Their own words, kept aside when an update could not be processed (bot/intake.py): gone when erased.
        Section("undelivered_updates", drop=True),
        Section("jobs", hidden=frozenset({"claimed_by"}), blank={"payload": {}}),
        Section("reply_waits"),  # times only, worked out from their messages for the dashboards; kept as the messages' times are
        Section("message_weeks"),  # counts of their messages by day, for the dashboards; kept as the messages' times are
        Section("wellbeing_scores"),  # their wellbeing scores in order, for the dashboards; kept as the responses' scores are
        Section("audit_events", keep=True, staff=("actor_staff_id",)),
    )
}
NOT_ABOUT_ONE_YOUNG_PERSON: dict[str, str] = {
    "staff": "staff accounts (the names of staff in a young person's records are exported with them)",
    "staff_sessions": "staff sign-ins",
    "duty_shifts": "the duty rota",
    "leave_periods": "staff leave (cover shows in the team and the messages)",
    "inbound_receipts": "update numbers only, so each update is handled once",
    "canned_replies": "each worker's own ready-made replies, about nobody in particular",
    "rollup_marks": "how far the dashboard rollup is built: a name and a time",
    "dashboard_views": "dashboard figures (counts, times, staff names) kept at most a day after last looked at: no name or words",
}


class UnlistedTable(LookupError):
    """A table nobody has said how to export or erase."""


def sections() -> Iterator[tuple[Table, Section]]:
    """Walk every table, parents before children, refusing one not listed either way."""
    for table in Base.metadata.sorted_tables:
        if table.name in SECTIONS:
            yield table, SECTIONS[table.name]
        elif table.name not in NOT_ABOUT_ONE_YOUNG_PERSON:
            raise UnlistedTable(
                f"Table {table.name!r} is in neither SECTIONS nor NOT_ABOUT_ONE_YOUNG_PERSON "
                "in bot/services/data_rights.py: say whether it holds data about a young person."
            )


def _where(table: Table, section: Section, young_person_id: int) -> ColumnElement[bool]:
    if table.name == "young_people":
        return table.c.id == young_person_id
    if section.parent is not None:
        column, parent_name = section.parent
        parent = Base.metadata.tables[parent_name]
        return table.c[column].in_(select(parent.c.id).where(parent.c.young_person_id == young_person_id))
    return table.c.young_person_id == young_person_id


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def _exported(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    out = {name: _plain(value) for name, value in row.items()}
    out.pop("address_key", None)  # a keyed hash for lookups: says nothing to the young person
    if table.name == "channel_links" and row["kind"] == "webchat":
        out.pop("address")  # the hash of the private link's token: never handed out
    return out


async def counts(session: AsyncSession, young_person_id: int) -> dict[str, int]:
    """Count what is held about a young person, for /mydata."""

    async def count(name: str, *where: ColumnElement[bool]) -> int:
        table = Base.metadata.tables[name]
        query = select(func.count()).select_from(table).where(table.c.young_person_id == young_person_id, *where)
        return (await session.scalar(query)) or 0

    return {
        "sent": await count("messages", Message.direction == Direction.INBOUND),
        "received": await count("messages", Message.direction == Direction.OUTBOUND),
        "checkins": await count("checkins"),
        "wellbeing": await count("wellbeing_responses"),
        "appointments": await count("appointments"),
    }


async def who_can_see(session: AsyncSession, young_person: YoungPerson) -> list[str]:
    """Name the people who can read a young person's messages now: key worker first, then team and cover."""
    names = await staff_names(session, {young_person.key_worker_id, *watchers(young_person)})
    worker = names.pop(young_person.key_worker_id, None)
    return [name for name in (worker, *sorted(names.values())) if name]


async def do_request_copy(session: AsyncSession, now: datetime, young_person: YoungPerson) -> Flag:
    """Tell the worker the young person asked for a copy of their data (a subject access request)."""
    flag = await do_raise_flag(session, now, young_person.id, COPY_FLAG)
    do_audit(session, now, "subject_access_request", young_person_id=young_person.id, target=f"young_person:{young_person.id}")
    return flag


async def build_export(
    session: AsyncSession, now: datetime, young_person_id: int, *, with_media: bool = False
) -> tuple[dict[str, Any], dict[int, bytes]]:
    """Gather every row held about a young person, and their media bytes if asked for."""
    tables: dict[str, list[dict[str, Any]]] = {}
    staff_ids: set[int] = set()
    media: dict[int, bytes] = {}
    for table, section in sections():
        where = _where(table, section, young_person_id)
        columns = [c for c in table.columns if c.name not in section.hidden]
        staff_columns = [c.name for c in columns if any(fk.column.table.name == "staff" for fk in c.foreign_keys)]
        tables[table.name] = []
        for row in (await session.execute(select(*columns).where(where))).mappings():
            staff_ids |= {row[c] for c in (*staff_columns, *section.staff) if row[c] is not None}
            tables[table.name].append(_exported(table, dict(row)))
        if table.name == "media" and with_media:
            media = {row[0]: row[1] for row in await session.execute(select(table.c.message_id, table.c.data).where(where))}
    tables = {name: tables[name] for name in SECTIONS if name in tables}  # in reading order
    staff = await session.execute(select(StaffMember.id, StaffMember.display_name, StaffMember.role).where(StaffMember.id.in_(staff_ids)))
    export = {
        "format": FORMAT,
        "generated_at": now.isoformat(),
        "young_person_id": young_person_id,
        "staff": {str(i): {"name": name, "role": _plain(role)} for i, name, role in staff},
        "tables": tables,
    }
    return export, media


def media_name(message_id: int, mime_type: str) -> str:
    """Name a media file in an export folder: its message number and a fitting extension."""
    return f"{message_id}{mimetypes.guess_extension(mime_type or '') or '.bin'}"


def _column_kinds() -> dict[str, dict[str, str]]:
    """Say which exported columns are times and which name a member of staff, table by table."""
    kinds: dict[str, dict[str, str]] = {}
    for table, section in sections():
        found = kinds.setdefault(table.name, {})
        for column in table.columns:
            if any(fk.column.table.name == "staff" for fk in column.foreign_keys) or column.name in section.staff:
                found[column.name] = "staff"
            elif isinstance(column.type, UTCDateTime):
                found[column.name] = "time"
    return kinds


def render_html(export: dict[str, Any], tz: ZoneInfo, media_folder: str | None = None) -> str:
    """Render the export as one readable HTML page."""
    env = Environment(loader=FileSystemLoader(EXPORT_TEMPLATES), autoescape=select_autoescape(default=True))
    env.filters["local"] = lambda value: datetime.fromisoformat(value).astimezone(tz).strftime("%d %b %Y %H:%M") if value else ""
    tables = export["tables"]
    return env.get_template("young_person.html").render(
        export=export,
        person=(tables["young_people"] or [{}])[0],
        tables=tables,
        kinds=_column_kinds(),
        columns={name: [k for k in dict.fromkeys(k for row in rows for k in row) if k not in NOT_SHOWN] for name, rows in tables.items()},
        media={m["message_id"]: m for m in tables.get("media", [])},
        staff={int(k): v for k, v in export["staff"].items()},
        media_folder=media_folder,
    )


def write_export(export: dict[str, Any], media: dict[int, bytes], folder: Path, tz: ZoneInfo) -> list[Path]:
    """Write the export as JSON and HTML (and media files, if any) into a folder; return the files."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"young-person-{export['young_person_id']}"
    written = []
    media_folder = f"{stem}-media" if media else None
    if media_folder:
        (folder / media_folder).mkdir(exist_ok=True)
        for item in export["tables"]["media"]:
            if item["message_id"] in media:
                path = folder / media_folder / media_name(item["message_id"], item["mime_type"])
                path.write_bytes(media[item["message_id"]])
                item["file"] = f"{media_folder}/{path.name}"
                written.append(path)
    json_path, html_path = folder / f"{stem}.json", folder / f"{stem}.html"
    json_path.write_text(json.dumps(export, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    html_path.write_text(render_html(export, tz, media_folder), encoding="utf-8")
    return [json_path, html_path, *written]


def do_record_export(session: AsyncSession, now: datetime, young_person_id: int, *, via: str, media: bool) -> None:
    """Write the audit entry for a subject access export."""
    do_audit(session, now, "export", young_person_id=young_person_id, target=f"young_person:{young_person_id}", via=via, media=media)


async def do_erase_young_person(
    session: AsyncSession, now: datetime, young_person: YoungPerson, *, mode: Erase, via: str
) -> None:
    """Erase a young person: anonymise (keep counts and times, remove names and words) or delete."""
    person_id = young_person.id
    do_audit(session, now, "erase", young_person_id=person_id, target=f"young_person:{person_id}", via=via, mode=mode)
    if mode == "anonymise":
        # Nothing is left open for anyone to act on, and nothing more is sent.
        await session.execute(update(Flag).where(Flag.young_person_id == person_id, Flag.cleared_at.is_(None)).values(cleared_at=now))
        await session.execute(update(Alert).where(Alert.young_person_id == person_id, Alert.closed_at.is_(None)).values(closed_at=now))
        await session.execute(update(Job).where(Job.young_person_id == person_id, Job.state == JobState.PENDING).values(state=JobState.CANCELLED, finished_at=now))
    for table, section in reversed(list(sections())):
        where = _where(table, section, person_id)
        if section.keep:
            continue
        if mode == "delete" or section.drop:
            await session.execute(delete(table).where(where))
        elif section.blank:
            await session.execute(update(table).where(where).values(**section.blank))
    if mode == "delete":
        session.expunge(young_person)
        return
    await session.execute(
        update(YoungPerson)
        .where(YoungPerson.id == person_id)
        .values(erased_at=now, left_service_at=young_person.left_service_at or now, opted_out_at=None)
    )
    await session.refresh(young_person)
