"""Undelivered updates: keep one that could not be processed where its worker sees it, until handled."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.alert import do_raise_alert
from bot.services.audit import do_audit
from bot.services.flag import do_clear_flags, do_raise_flag
from bot.services.risk import RiskAssessment
from models import ChannelLink, InboundReceipt, StaffMember, UndeliveredUpdate, YoungPerson
from models.channel import address_key

FLAG = "undelivered"
UNCHECKED = "unchecked"  # the risk checker itself failed on these words: read them first


@dataclass(frozen=True)
class Shown:
    """An undelivered update as staff read it: the words and what kind of thing it was."""

    update: UndeliveredUpdate
    kind: str  # "message", "edited message", "button", "something else"
    words: str | None


def words_of(raw: dict[str, Any]) -> tuple[str, str | None]:
    """Say what kind of update it was and the words in it (text, caption or button), if any."""
    for key, kind in (("message", "message"), ("edited_message", "edited message")):
        message = raw.get(key)
        if isinstance(message, dict):
            words = message.get("text") or message.get("caption")
            return kind, words if isinstance(words, str) else None
    query = raw.get("callback_query")
    if isinstance(query, dict):
        data = query.get("data")
        return "button", data if isinstance(data, str) else None
    return "something else", None


async def linked_young_person(session: AsyncSession, channel: str, address: str) -> YoungPerson | None:
    """Find the young person a chat is linked to, if it is."""
    link = await session.scalar(
        select(ChannelLink).where(ChannelLink.kind == channel, ChannelLink.address_key == address_key(address))
    )
    return await session.get(YoungPerson, link.young_person_id) if link is not None else None


async def do_keep_undelivered(
    session: AsyncSession,
    now: datetime,
    *,
    source: str,
    update_id: int,
    raw: dict[str, Any],
    young_person: YoungPerson | None,
    first_failed_at: datetime,
    failures: int,
    error: str,
    risk: RiskAssessment | None,
    escalate_after: timedelta,
    risk_checked: bool = True,
) -> UndeliveredUpdate | None:
    """Keep an update aside (encrypted) and mark it handled once; None if it was handled already."""
    if await session.get(InboundReceipt, (source, update_id)) is not None:
        return None
    # Its receipt: a redelivery (Telegram re-sending a webhook, another process polling) is a no-op now.
    session.add(InboundReceipt(source=source, update_id=update_id, received_at=now))
    kept = UndeliveredUpdate(
        source=source,
        update_id=update_id,
        young_person_id=young_person.id if young_person else None,
        received_at=first_failed_at,
        kept_at=now,
        failures=failures,
        error=error[:200],
        risk_level=(risk.level if risk and risk.level else None) if risk_checked else UNCHECKED,
        raw=json.dumps(raw, ensure_ascii=False, separators=(",", ":")),
    )
    session.add(kept)
    await session.flush()
    if young_person is not None:
        await do_raise_flag(session, now, young_person.id, FLAG, undelivered_id=kept.id)
        # Safeguarding applies to every text, processed or not: urgent words still alert a person.
        if risk is not None and risk.is_urgent:
            await do_raise_alert(
                session, now, young_person, level="urgent", categories=list(risk.categories),
                source="undelivered", message_id=None, escalate_after=escalate_after,
            )
        elif risk is not None and risk.level == "concern":
            await do_raise_flag(session, now, young_person.id, "risk_concern", categories=list(risk.categories))
    return kept


async def shown_for(session: AsyncSession, young_person_id: int, *, include_handled: bool = False) -> list[Shown]:
    """List a young person's undelivered updates, newest first, with their words."""
    query = select(UndeliveredUpdate).where(UndeliveredUpdate.young_person_id == young_person_id)
    if not include_handled:
        query = query.where(UndeliveredUpdate.resolved_at.is_(None))
    rows = await session.scalars(query.order_by(UndeliveredUpdate.kept_at.desc()).limit(50))
    return [Shown(row, *words_of(json.loads(row.raw))) for row in rows]


async def do_resolve_undelivered(
    session: AsyncSession, now: datetime, kept: UndeliveredUpdate, staff: StaffMember
) -> bool:
    """Mark an undelivered update handled; say whether it was open. The flag clears with the last one."""
    if kept.resolved_at is not None:
        return False
    kept.resolved_at, kept.resolved_by_id = now, staff.id
    do_audit(
        session, now, "resolve_undelivered", actor_id=staff.id, young_person_id=kept.young_person_id,
        target=f"undelivered:{kept.id}",
    )
    await session.flush()
    if kept.young_person_id is not None and not await open_count(session, kept.young_person_id):
        await do_clear_flags(session, now, kept.young_person_id, FLAG, cleared_by_id=staff.id)
    return True


async def open_count(session: AsyncSession, young_person_id: int | None = None) -> int:
    """Count undelivered updates nobody has handled yet (for one young person, or everyone)."""
    query = select(func.count()).select_from(UndeliveredUpdate).where(UndeliveredUpdate.resolved_at.is_(None))
    if young_person_id is not None:
        query = query.where(UndeliveredUpdate.young_person_id == young_person_id)
    return await session.scalar(query) or 0


async def oldest_open(session: AsyncSession) -> tuple[int, datetime | None]:
    """Count the unhandled undelivered updates and say when the oldest was kept (for /healthz)."""
    count, oldest = (
        await session.execute(
            select(func.count(), func.min(UndeliveredUpdate.kept_at)).where(UndeliveredUpdate.resolved_at.is_(None))
        )
    ).one()
    return count or 0, oldest
