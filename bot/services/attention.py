"""Who needs attention now: order a caseload by it, and say why on each row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.flag import LABELS
from bot.services.young_person import CaseloadRow
from models import Alert, Appointment, AppointmentStatus, Direction, Message

# Not a word from someone linked for this long: worth a gentle message.
QUIET_DAYS = 14
NO_REASON = 99
# Flags that rank with their own tier; the rest of LABELS rank last among reasons.
FLAG_TIERS = {"missing": 1, "risk_concern": 2, "undelivered": 3, "wants_contact": 4, "appointment_cant": 4, "appointment_help": 4}
HANDLED_ELSEWHERE = {"risk_urgent", "risk_concern", "not_heard_from"}  # said by the alert and quiet reasons


@dataclass(frozen=True)
class Reason:
    tier: int  # lower comes first
    text: str
    tone: str  # "bad", "wait" or "info": how the reason is shown
    since: datetime  # who has waited longest comes first within a tier


@dataclass(frozen=True)
class RankedRow:
    row: CaseloadRow
    reasons: tuple[Reason, ...]

    @property
    def tier(self) -> int:
        return self.reasons[0].tier if self.reasons else NO_REASON


def _ago(now: datetime, then: datetime) -> str:
    minutes = int((now - then).total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} days"


async def _open_alerts(session: AsyncSession, ids: list[int]) -> dict[int, list[Alert]]:
    found: dict[int, list[Alert]] = {}
    rows = await session.scalars(
        select(Alert).where(Alert.young_person_id.in_(ids), Alert.closed_at.is_(None)).order_by(Alert.raised_at)
    )
    for alert in rows:
        found.setdefault(alert.young_person_id, []).append(alert)
    return found


async def _oldest_unread(session: AsyncSession, ids: list[int]) -> dict[int, datetime]:
    rows = await session.execute(
        select(Message.young_person_id, func.min(Message.created_at))
        .where(Message.young_person_id.in_(ids), Message.direction == Direction.INBOUND, Message.read_at.is_(None))
        .group_by(Message.young_person_id)
    )
    return {person: _utc(at) for person, at in rows.all()}


async def _appointments_today(session: AsyncSession, ids: list[int], now: datetime, tz: ZoneInfo) -> dict[int, datetime]:
    local = now.astimezone(tz)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + timedelta(days=1)  # wall-clock arithmetic: the next local midnight, across a clock change too
    rows = await session.execute(
        select(Appointment.young_person_id, func.min(Appointment.starts_at))
        .where(
            Appointment.young_person_id.in_(ids),
            Appointment.status == AppointmentStatus.SCHEDULED,
            Appointment.starts_at >= max(start, now - timedelta(hours=1)),
            Appointment.starts_at < end,
        )
        .group_by(Appointment.young_person_id)
    )
    return {person: _utc(at) for person, at in rows.all()}


def _utc(moment: datetime) -> datetime:
    # SQLite hands back aggregates as naive values; they were stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _reasons(row: CaseloadRow, now: datetime, tz: ZoneInfo, alerts: list[Alert], unread_since: datetime | None,
             appointment_at: datetime | None) -> list[Reason]:
    found: list[Reason] = []
    person = row.young_person
    for alert in alerts:
        if alert.level == "urgent" and alert.acknowledged_at is None:
            found.append(Reason(0, f"Urgent alert, not picked up ({_ago(now, alert.raised_at)})", "bad", alert.raised_at))
        elif alert.level == "urgent":
            found.append(Reason(1, "Urgent alert open", "bad", alert.raised_at))
        else:
            found.append(Reason(2, "Safeguarding concern", "bad", alert.raised_at))
    if row.unread and unread_since is not None:
        words = "1 unread message" if row.unread == 1 else f"{row.unread} unread messages"
        found.append(Reason(3, f"{words}, waiting {_ago(now, unread_since)}", "wait", unread_since))
    for flag in row.flags:
        if flag.kind in HANDLED_ELSEWHERE and not (flag.kind == "risk_concern" and not alerts):
            continue
        found.append(Reason(FLAG_TIERS.get(flag.kind, 7), LABELS.get(flag.kind, flag.kind), "wait", flag.raised_at))
    if appointment_at is not None:
        found.append(Reason(5, f"Appointment today at {appointment_at.astimezone(tz):%H:%M}", "info", appointment_at))
    heard = person.last_inbound_at or person.linked_at
    quiet_flag = any(f.kind == "not_heard_from" for f in row.flags)
    if person.linked_at is not None and heard is not None and (quiet_flag or now - heard > timedelta(days=QUIET_DAYS)):
        found.append(Reason(6, f"Not heard from for {_ago(now, heard)}", "info", heard))
    found.sort(key=lambda r: (r.tier, r.since))
    return found


async def rank_caseload(session: AsyncSession, rows: list[CaseloadRow], now: datetime, tz: ZoneInfo) -> list[RankedRow]:
    """Put the young people who need someone now first, each with the reasons why."""
    ids = [row.young_person.id for row in rows]
    if not ids:
        return []
    alerts = await _open_alerts(session, ids)
    unread = await _oldest_unread(session, ids)
    today = await _appointments_today(session, ids, now, tz)
    ranked = [
        RankedRow(row, tuple(_reasons(row, now, tz, alerts.get(row.young_person.id, []),
                                      unread.get(row.young_person.id), today.get(row.young_person.id))))
        for row in rows
    ]
    # Stable: with no reason, rows keep the caseload's own order (most recent message first).
    far = datetime.max.replace(tzinfo=UTC)
    ranked.sort(key=lambda r: (r.tier, r.reasons[0].since if r.reasons else far))
    return ranked
