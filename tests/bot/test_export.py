"""Subject access export and erasure from the command line: everything about one young person, and only them."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.cli import app
from bot.keys import load_keyring
from bot.services.alert import do_raise_alert, do_record_alert_action
from bot.services.audit import do_audit
from bot.services.data_rights import NOT_ABOUT_ONE_YOUNG_PERSON, SECTIONS, UnlistedTable, sections
from bot.services.message import do_queue_outbound, do_record_inbound, do_store_media
from bot.services.safety_plan import do_save_safety_plan
from bot.services.settings import do_set_checkin_schedule
from bot.services.staff import do_create_staff
from bot.services.young_person import do_add_young_person
from models import (
    Appointment,
    AuditEvent,
    Base,
    ChannelKind,
    ChannelLink,
    CheckIn,
    CheckInSource,
    ContentKind,
    Flag,
    Handover,
    Invite,
    MediaBlob,
    Message,
    MissingEpisode,
    PlacementMove,
    SafetyPlan,
    StaffRole,
    TeamMember,
    WellbeingAnswer,
    WellbeingResponse,
    YoungPerson,
)
from config.settings import Settings
from models import crypto
from models.db import create_engine, create_sessionmaker

runner = CliRunner()
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
PHOTO = b"\xff\xd8\xff\xe0 not really a jpeg, but bytes all the same"
WEB_TOKEN_HASH = "ab" * 32
# Known sentences, one in each place a young person's words or their worker's words are kept.
WORDS = {
    "message": "I like the blue bike at Kirkgate",
    "caption": "my room at the new place",
    "reply": "See you Friday <b>Sam</b> & bring the form",
    "wellbeing": "I felt brave today",
    "appointment": "Dentist on Bond Street",
    "alert_action": "Phoned the carer at Oak House",
    "missing": "Last seen at the bus station",
    "safety_plan": "Call my nan Rose",
    "handover": "Handing over while Jo changes team",
    "placement": "Moved to the Elm Road foster home",
}
NAMES = ("Samira Haddad", "Sam")


@pytest.fixture
def env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in list(os.environ):
        if name.startswith("KEYWORKER_") and name != "KEYWORKER_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    return {"KEYWORKER_DATABASE_URL": database_url, "KEYWORKER_DATA_DIR": str(tmp_path)}


async def _seed(url: str) -> tuple[int, int]:
    """Put Sam (with something in every kind of record) and Kai in a fresh database; return their ids."""
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            jo, _ = await do_create_staff(session, NOW, username="jo", display_name="Jo", role=StaffRole.KEY_WORKER)
            ali, _ = await do_create_staff(session, NOW, username="ali", display_name="Ali", role=StaffRole.KEY_WORKER)
            sam = await do_add_young_person(session, NOW, full_name="Samira Haddad", preferred_name="Sam", key_worker=jo)
            kai = await do_add_young_person(session, NOW, full_name="Kai Brown", preferred_name="Kai", key_worker=jo)
            telegram = ChannelLink(young_person_id=sam.id, kind=ChannelKind.TELEGRAM, address="7770071", linked_at=NOW)
            web = ChannelLink(young_person_id=sam.id, kind=ChannelKind.WEBCHAT, address=WEB_TOKEN_HASH, linked_at=NOW)
            kai_link = ChannelLink(young_person_id=kai.id, kind=ChannelKind.TELEGRAM, address="7770072", linked_at=NOW)
            session.add_all([telegram, web, kai_link])
            session.add(Invite(young_person_id=sam.id, code_hash="cd" * 32, created_at=NOW, expires_at=NOW + timedelta(days=7)))
            await session.flush()
            said = await do_record_inbound(session, NOW, sam, telegram, content_kind=ContentKind.TEXT, body=WORDS["message"], meta={}, risk_level="concern")
            photo = await do_record_inbound(
                session, NOW, sam, telegram, content_kind=ContentKind.PHOTO, body=WORDS["caption"],
                meta={"file_id": "f1", "mime_type": "image/jpeg"}, risk_level=None,
            )
            await do_store_media(session, NOW, photo, PHOTO, "image/jpeg")
            await do_queue_outbound(session, NOW, sam, body=WORDS["reply"], staff=jo)
            await do_record_inbound(session, NOW, kai, kai_link, content_kind=ContentKind.TEXT, body="Kai's own words", meta={}, risk_level=None)
            await do_set_checkin_schedule(session, NOW, sam, ZoneInfo("Europe/London"), days=["mon"])
            session.add(CheckIn(young_person_id=sam.id, source=CheckInSource.SCHEDULED, sent_at=NOW, answered_at=NOW, answer="mood", mood=4))
            response = WellbeingResponse(
                young_person_id=sam.id, questionnaire="feelings", language="en", trigger="self", started_at=NOW, updated_at=NOW, scores={}
            )
            session.add(response)
            await session.flush()
            session.add(WellbeingAnswer(response_id=response.id, question="words", position=1, text=WORDS["wellbeing"], answered_at=NOW))
            session.add(Appointment(
                young_person_id=sam.id, created_by_id=jo.id, what=WORDS["appointment"], starts_at=NOW + timedelta(days=2),
                place="Bond Street", reminders=["2h"], created_at=NOW, updated_at=NOW,
            ))
            alert, _ = await do_raise_alert(
                session, NOW, sam, level="concern", categories=["self_harm"], source="message", message_id=said.id,
                escalate_after=timedelta(minutes=15),
            )
            await do_record_alert_action(session, NOW, alert, jo, WORDS["alert_action"])
            session.add(MissingEpisode(young_person_id=sam.id, started_at=NOW - timedelta(days=9), started_by_id=jo.id, note=WORDS["missing"], ended_at=NOW - timedelta(days=8)))
            session.add(PlacementMove(young_person_id=sam.id, moved_at=NOW - timedelta(days=3), recorded_by_id=jo.id, note=WORDS["placement"], created_at=NOW))
            await do_save_safety_plan(session, NOW, sam.id, jo.id, warning_signs="", things_that_help=WORDS["safety_plan"], people_and_places="", who_to_call="")
            session.add(TeamMember(young_person_id=sam.id, staff_id=ali.id, role="life coach", added_at=NOW, added_by_id=jo.id))
            session.add(Handover(young_person_id=sam.id, from_staff_id=ali.id, to_staff_id=jo.id, by_staff_id=jo.id, at=NOW, note=WORDS["handover"]))
            do_audit(session, NOW, "view_messages", actor_id=ali.id, young_person_id=sam.id, target=f"young_person:{sam.id}")
            await session.commit()
            return sam.id, kai.id
    finally:
        await engine.dispose()


def seed(env: dict[str, str]) -> tuple[int, int]:
    # The same keys as the command line will use: the development key file in the data folder.
    crypto.configure(load_keyring(Settings(database_url=env["KEYWORKER_DATABASE_URL"], data_dir=Path(env["KEYWORKER_DATA_DIR"]))))
    return asyncio.run(_seed(env["KEYWORKER_DATABASE_URL"]))


async def _query(url: str, statement):  # type: ignore[no-untyped-def]
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            return (await session.execute(statement)).all()
    finally:
        await engine.dispose()


def query(env: dict[str, str], statement):  # type: ignore[no-untyped-def]
    return asyncio.run(_query(env["KEYWORKER_DATABASE_URL"], statement))


class StrictHTML(HTMLParser):
    """Check that every element opened is closed, in order (void elements aside)."""

    VOID = {"meta", "br", "hr", "img", "input", "link"}

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:  # type: ignore[type-arg]
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_every_table_is_exported_or_said_to_hold_nothing_about_one_young_person() -> None:
    tables = set(Base.metadata.tables)
    assert sorted(tables - set(SECTIONS) - set(NOT_ABOUT_ONE_YOUNG_PERSON)) == []
    assert sorted((set(SECTIONS) | set(NOT_ABOUT_ONE_YOUNG_PERSON)) - tables) == []  # no entries for tables gone
    # A table pointing at a young person can never be waved through as "not about one young person".
    for name in NOT_ABOUT_ONE_YOUNG_PERSON:
        columns = Base.metadata.tables[name].columns
        assert "young_person_id" not in columns, name
        assert not any(fk.column.table.name == "young_people" for c in columns for fk in c.foreign_keys), name


def test_a_new_table_without_an_export_entry_stops_the_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(SECTIONS, "safety_plans")
    with pytest.raises(UnlistedTable, match="'safety_plans' is in neither"):
        list(sections())


def test_export_holds_everything_about_sam_and_nothing_about_kai(env: dict[str, str], tmp_path: Path) -> None:
    sam, _ = seed(env)
    out = tmp_path / "sar"
    result = runner.invoke(app, ["export-young-person", "--id", str(sam), "--out", str(out), "--media"], env=env)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        f"Wrote {out}/young-person-{sam}.json and {out}/young-person-{sam}.html and 1 media file(s) in {out}/young-person-{sam}-media."
    )

    export = json.loads((out / f"young-person-{sam}.json").read_text("utf-8"))
    tables = export["tables"]
    assert export["young_person_id"] == sam and tables["young_people"][0]["full_name"] == "Samira Haddad"
    for name in ("channel_links", "invites", "messages", "media", "checkin_schedules", "checkins", "wellbeing_responses",
                 "wellbeing_answers", "appointments", "alerts", "alert_actions", "flags", "missing_episodes", "placement_moves",
                 "safety_plans", "team_members", "handovers", "audit_events"):
        assert tables[name], f"nothing exported from {name}"
    dump = json.dumps(export, ensure_ascii=False)
    assert all(words in dump for words in WORDS.values())
    assert "Kai" not in dump
    # The web chat's token hash and the invite's code hash are never handed out; Telegram's chat is theirs.
    assert WEB_TOKEN_HASH not in dump and "cd" * 32 not in dump and "7770071" in dump
    [media] = tables["media"]
    assert media["mime_type"] == "image/jpeg" and media["size"] == len(PHOTO) and "data" not in media
    assert (out / media["file"]).read_bytes() == PHOTO
    assert {s["name"] for s in export["staff"].values()} == {"Jo", "Ali"}

    page = (out / f"young-person-{sam}.html").read_text("utf-8")
    parser = StrictHTML()
    parser.feed(page)
    parser.close()
    assert parser.open == []
    text = " ".join(" ".join(parser.text).split())
    assert "Records held about Sam" in text
    assert all(" ".join(words.split()) in text for words in WORDS.values())
    assert "&lt;b&gt;Sam&lt;/b&gt; &amp; bring" in page  # their words are shown, never run as markup
    assert "<script" not in page and "Kai" not in page
    assert f'href="young-person-{sam}-media/' in page

    [[action, via]] = query(env, select(AuditEvent.action, AuditEvent.detail).where(AuditEvent.action == "export"))
    assert via == {"via": "command line", "media": True}


def test_export_and_erase_refuse_an_unknown_id_in_one_line(env: dict[str, str], tmp_path: Path) -> None:
    seed(env)
    for command in (["export-young-person", "--out", str(tmp_path)], ["erase-young-person", "--yes"]):
        result = runner.invoke(app, [*command, "--id", "999"], env=env)
        assert result.exit_code == 1
        assert result.output.strip() == "No young person with id 999."


def test_erase_asks_first_then_removes_names_and_words_but_keeps_counts(env: dict[str, str]) -> None:
    sam, kai = seed(env)
    count = select(func.count()).select_from(Message).where(Message.young_person_id == sam)
    [[messages_before]] = query(env, count)

    declined = runner.invoke(app, ["erase-young-person", "--id", str(sam)], env=env, input="n\n")
    assert declined.exit_code == 1 and "Erase young person" in declined.output and "Samira Haddad" in declined.output
    assert "Nothing was erased." in declined.output
    [[name]] = query(env, select(YoungPerson.full_name).where(YoungPerson.id == sam))
    assert name == "Samira Haddad"

    erased = runner.invoke(app, ["erase-young-person", "--id", str(sam)], env=env, input="y\n")
    assert erased.exit_code == 0, erased.output
    assert erased.output.strip().endswith(f"Erased young person {sam} (anonymise: counts and times kept, names and words removed).")
    again = runner.invoke(app, ["erase-young-person", "--id", str(sam), "--yes"], env=env)
    assert again.exit_code == 0 and "was already erased on" in again.output

    [[messages_after]] = query(env, count)
    assert messages_after == messages_before
    export = runner.invoke(app, ["export-young-person", "--id", str(sam), "--out", env["KEYWORKER_DATA_DIR"]], env=env)
    assert export.exit_code == 0, export.output
    dump = Path(env["KEYWORKER_DATA_DIR"], f"young-person-{sam}.json").read_text("utf-8")
    left = [words for words in (*WORDS.values(), *NAMES, "7770071") if words in dump]
    assert left == []
    tables = json.loads(dump)["tables"]
    assert tables["checkins"][0]["mood"] == 4 and tables["alerts"][0]["closed_at"] is not None
    assert tables["media"] == [] and tables["channel_links"] == [] and tables["safety_plans"] == [] and tables["invites"] == []
    assert all(flag["cleared_at"] for flag in tables["flags"]) and tables["audit_events"]
    [[kai_words]] = query(env, select(Message.body).where(Message.young_person_id == kai))
    assert kai_words == "Kai's own words"


def test_erase_by_deletion_when_the_policy_says_so(env: dict[str, str]) -> None:
    sam, kai = seed(env)
    result = runner.invoke(app, ["erase-young-person", "--id", str(sam), "--yes"], env={**env, "KEYWORKER_RETENTION_ERASE": "delete"})
    assert result.exit_code == 0, result.output
    assert f"Erased young person {sam} (delete: nothing kept)." in result.output
    for model in (YoungPerson, Message, MediaBlob, ChannelLink, CheckIn, Flag, SafetyPlan, TeamMember, Handover):
        column = model.id if model is YoungPerson else getattr(model, "young_person_id", None)
        if column is None:
            [[left]] = query(env, select(func.count()).select_from(model))
            assert left == 0, model.__tablename__
            continue
        [[left]] = query(env, select(func.count()).select_from(model).where(column == sam))
        assert left == 0, model.__tablename__
    [[kept]] = query(env, select(func.count()).select_from(AuditEvent).where(AuditEvent.young_person_id == sam))
    assert kept >= 2  # the audit log keeps its ids: who looked, and that the record was erased
    [[kai_there]] = query(env, select(func.count()).select_from(YoungPerson).where(YoungPerson.id == kai))
    assert kai_there == 1
