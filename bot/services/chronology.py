"""The chronology of a young person's record: what happened, by date, as one readable file for the case record.

Messages are summarised per day as counts (who wrote how many), never their words: the case record gets
the shape of the contact, and the full conversation stays where access to it is audited view by view.
Staff notes (alert actions, missing episodes, placement moves, handovers) are staff words and are included.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.audit import do_audit
from bot.services.chart import number
from bot.services.flag import LABELS as FLAG_LABELS
from bot.services.message import staff_names
from bot.services.questionnaire import get_questionnaire
from models import (
    Alert,
    AlertAction,
    Appointment,
    CheckIn,
    Flag,
    Handover,
    Message,
    MissingEpisode,
    PlacementMove,
    WellbeingAnswer,
    WellbeingResponse,
    YoungPerson,
)

EXPORT_TEMPLATES = Path(__file__).resolve().parents[2] / "console" / "templates" / "exports"
MOODS = {1: "Bad", 2: "Not good", 3: "OK", 4: "Good", 5: "Great"}
APPOINTMENT_ANSWERS = {"yes": "said they would be there", "cant": "said they could not make it", "help": "asked for help getting there"}
ALERT_STEPS = {
    "raised": "raised", "again": "more worrying words joined it", "escalated": "escalated (nobody had picked it up)",
    "acknowledged": "picked up", "action": "action taken", "closed": "closed",
}
CSV_COLUMNS = ("date", "time", "type", "what happened", "by")
YOUNG_PERSON, SERVICE = "\0young person", "\0service"  # message senders that are not staff names


@dataclass(frozen=True)
class Entry:
    """One line of the chronology: when, what kind of thing, what happened, and who did it."""

    at: datetime
    kind: str
    what: str
    by: str = ""
    whole_day: bool = False  # a day's summary (messages): shown without a time


@dataclass(frozen=True)
class Chronology:
    young_person_id: int
    full_name: str
    preferred_name: str
    key_worker: str
    generated_at: datetime
    entries: tuple[Entry, ...]


def _messages(rows: list[tuple[datetime, str, str, int | None]], tz: ZoneInfo, name: str, names: dict[int, str]) -> list[Entry]:
    """Summarise messages per local day: how many the young person sent, each worker sent, and the service sent."""
    days: dict[date, Counter[str]] = defaultdict(Counter)
    first: dict[date, datetime] = {}
    for created_at, direction, sender_kind, staff_id in rows:
        day = created_at.astimezone(tz).date()
        first.setdefault(day, created_at)
        if direction == "in":
            who = YOUNG_PERSON
        elif sender_kind == "staff":
            who = names.get(staff_id or 0, "staff")
        else:
            who = SERVICE
        days[day][who] += 1
    entries = []
    for day, counts in days.items():
        total = sum(counts.values())
        staff = sorted((who, n) for who, n in counts.items() if who not in (YOUNG_PERSON, SERVICE))
        parts = [f"{counts[YOUNG_PERSON]} from {name}"] if counts[YOUNG_PERSON] else []
        parts += [f"{n} from {who}" for who, n in staff]
        if counts[SERVICE]:
            parts.append(f"{counts[SERVICE]} automatic (check-ins, reminders, answers)")
        entries.append(Entry(first[day], "Messages", f"{total} message{'s' if total != 1 else ''}: " + ", ".join(parts), whole_day=True))
    return entries


def _checkin(c: CheckIn) -> str:
    asked = "They asked for a check-in" if c.source == "asked" else "Check-in sent"
    if c.answer == "mood" and c.mood is not None:
        contact = {True: "; wanted their worker to get in touch", False: "; no contact needed"}.get(c.wants_contact, "")  # type: ignore[arg-type]
        return f"{asked}: feeling {MOODS.get(c.mood, c.mood)} ({c.mood} of 5){contact}"
    if c.answer == "talk":
        return f"{asked}: wanted to talk to their worker"
    if c.answer == "good_news":
        return f"{asked}: shared good news"
    if c.answer == "text":
        return f"{asked}: answered in their own words"
    return f"{asked}: missed" if c.missed else f"{asked}: no answer yet"


def _wellbeing(response: WellbeingResponse, answers: list[WellbeingAnswer]) -> str:
    """Word a questionnaire for the record: a one-question answer as its option, otherwise the scores."""
    questionnaire = get_questionnaire(response.questionnaire)
    status = {"complete": "answered", "open": "not answered", "closed": "left part way"}.get(response.status, response.status)
    if questionnaire is None:
        return f"{response.questionnaire} ({status})"
    if len(questionnaire.questions) == 1 and questionnaire.questions[0].options:
        question = questionnaire.questions[0]
        parts = [question.describe(a.value) if a.value is not None else "skipped" for a in answers]
    else:
        # Scores, not their own words: typed answers stay in the record itself.
        parts = [f"{s.label} {number(v)}" for s in questionnaire.scores if (v := response.scores.get(s.id)) is not None]
    return f"{questionnaire.label} ({status})" + (": " + "; ".join(parts) if parts else "")


def _appointment(a: Appointment, tz: ZoneInfo) -> str:
    when = a.starts_at.astimezone(tz).strftime("%d %b %Y %H:%M")
    text = f"{a.what} at {when}" + (f", {a.place}" if a.place else "") + (f", with {a.with_whom}" if a.with_whom else "")
    if a.answer:
        text += f"; {APPOINTMENT_ANSWERS.get(a.answer, a.answer)}"
    outcome = {"scheduled": "planned"}.get(a.status, str(a.status))
    return f"{text}; {outcome}"


async def build_chronology(session: AsyncSession, now: datetime, young_person: YoungPerson, tz: ZoneInfo) -> Chronology:
    """Gather a young person's record into dated entries, oldest first."""
    person_id, name = young_person.id, young_person.preferred_name
    entries: list[Entry] = []
    by: set[int] = {young_person.key_worker_id}

    def rows(model):  # type: ignore[no-untyped-def]
        return select(model).where(model.young_person_id == person_id)

    messages = (await session.execute(
        select(Message.created_at, Message.direction, Message.sender_kind, Message.staff_id).where(Message.young_person_id == person_id)
    )).all()
    checkins = list(await session.scalars(rows(CheckIn)))
    responses = list(await session.scalars(rows(WellbeingResponse)))
    answers: dict[int, list[WellbeingAnswer]] = defaultdict(list)
    if responses:
        found = await session.scalars(
            select(WellbeingAnswer).where(WellbeingAnswer.response_id.in_([r.id for r in responses])).order_by(WellbeingAnswer.position)
        )
        for answer in found:
            answers[answer.response_id].append(answer)
    appointments = list(await session.scalars(rows(Appointment)))
    alerts = list(await session.scalars(rows(Alert)))
    actions = list(await session.scalars(
        select(AlertAction).where(AlertAction.alert_id.in_([a.id for a in alerts])).order_by(AlertAction.at, AlertAction.id)
    )) if alerts else []
    episodes = list(await session.scalars(rows(MissingEpisode)))
    moves = list(await session.scalars(rows(PlacementMove)))
    flags = list(await session.scalars(rows(Flag)))
    handovers = list(await session.scalars(rows(Handover)))
    by |= {m[3] for m in messages if m[3]} | {a.created_by_id for a in appointments} | {a.outcome_by_id for a in appointments if a.outcome_by_id}
    by |= {a.staff_id for a in actions if a.staff_id} | {m.recorded_by_id for m in moves} | {f.cleared_by_id for f in flags if f.cleared_by_id}
    by |= {e.started_by_id for e in episodes if e.started_by_id} | {e.ended_by_id for e in episodes if e.ended_by_id}
    by |= {h.from_staff_id for h in handovers} | {h.to_staff_id for h in handovers} | {h.by_staff_id for h in handovers}
    names = await staff_names(session, by - {None})  # type: ignore[operator]

    def who(staff_id: int | None) -> str:
        return names.get(staff_id, "") if staff_id else ""

    entries += _messages(messages, tz, name, names)  # type: ignore[arg-type]
    entries += [Entry(c.sent_at, "Check-in", _checkin(c)) for c in checkins]
    entries += [Entry(r.completed_at or r.started_at, "Wellbeing", _wellbeing(r, answers[r.id])) for r in responses]
    for a in appointments:
        entries.append(Entry(a.created_at, "Appointment made", _appointment(a, tz), who(a.created_by_id)))
        if a.outcome_at:
            entries.append(Entry(a.outcome_at, "Appointment outcome", f"{a.what}: {a.status}", who(a.outcome_by_id)))
    for alert in alerts:
        kinds = ", ".join(c.replace("_", " ") for c in alert.categories) or alert.source.replace("_", " ")
        entries.append(Entry(alert.raised_at, "Safeguarding alert", f"Alert {alert.id} ({alert.level}): {kinds}"))
    for action in actions:
        if action.kind == "raised":
            continue  # the alert's own line says so
        note = f": {action.note}" if action.note and action.kind in ("action", "closed") else ""
        entries.append(Entry(action.at, "Alert action", f"Alert {action.alert_id} {ALERT_STEPS.get(action.kind, action.kind)}{note}", who(action.staff_id)))
    for e in episodes:
        entries.append(Entry(e.started_at, "Missing from care", "Reported missing" + (f": {e.note}" if e.note else ""), who(e.started_by_id)))
        if e.first_contact_at:
            entries.append(Entry(e.first_contact_at, "Missing from care", f"First in touch while missing ({e.messages_sent} 'are you safe?' messages sent)"))
        if e.ended_at:
            entries.append(Entry(e.ended_at, "Missing from care", "Back safe" + (f": {e.end_note}" if e.end_note else ""), who(e.ended_by_id)))
    entries += [Entry(m.moved_at, "Placement move", "Moved placement" + (f": {m.note}" if m.note else ""), who(m.recorded_by_id), whole_day=True) for m in moves]
    for f in flags:
        label = FLAG_LABELS.get(f.kind, f.kind.replace("_", " "))
        entries.append(Entry(f.raised_at, "Flag", f"Flag raised: {label}"))
        if f.cleared_at:
            entries.append(Entry(f.cleared_at, "Flag", f"Flag cleared: {label}", who(f.cleared_by_id)))
    for h in handovers:
        text = f"Key worker changed from {who(h.from_staff_id)} to {who(h.to_staff_id)}" + (f": {h.note}" if h.note else "")
        entries.append(Entry(h.at, "Key worker change", text, who(h.by_staff_id)))
    entries.sort(key=lambda e: (e.at, not e.whole_day))
    return Chronology(
        person_id, young_person.full_name, name, who(young_person.key_worker_id), now, tuple(entries)
    )


def render_html(chronology: Chronology, tz: ZoneInfo) -> str:
    """Render the chronology as one printable HTML page, readable on its own."""
    env = Environment(loader=FileSystemLoader(EXPORT_TEMPLATES), autoescape=select_autoescape(default=True))
    env.filters["local"] = lambda value, fmt="%d %b %Y %H:%M": value.astimezone(tz).strftime(fmt)
    return env.get_template("chronology.html").render(c=chronology)


def render_csv(chronology: Chronology, tz: ZoneInfo) -> str:
    """Write the chronology as CSV, one row per entry, for a case system's import."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for e in chronology.entries:
        local = e.at.astimezone(tz)
        writer.writerow([local.strftime("%Y-%m-%d"), "" if e.whole_day else local.strftime("%H:%M"), e.kind, _cell(e.what), _cell(e.by)])
    return out.getvalue()


def _cell(value: str) -> str:
    # A spreadsheet would run a cell starting with = + - @ as a formula: staff notes must stay text.
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def file_name(chronology: Chronology, extension: str) -> str:
    """Name the file: the record number and the day it was made, never the young person's name."""
    return f"chronology-young-person-{chronology.young_person_id}-{chronology.generated_at:%Y-%m-%d}.{extension}"


def do_record_chronology_export(session: AsyncSession, now: datetime, young_person_id: int, *, actor_id: int, ip: str | None, fmt: str, entries: int) -> None:
    """Write the audit entry for a chronology export."""
    do_audit(
        session, now, "export_chronology", actor_id=actor_id, young_person_id=young_person_id,
        target=f"young_person:{young_person_id}", ip=ip, format=fmt, entries=entries,
    )
