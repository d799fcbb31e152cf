"""Audit: record who saw or changed what, and seal the log into a hash chain that shows tampering."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import AuditEvent

GENESIS = "0" * 64
_LOCK_KEY = 7_310_001  # PostgreSQL advisory lock: one sealer at a time across processes


def do_audit(
    session: AsyncSession,
    now: datetime,
    action: str,
    *,
    actor_id: int | None = None,
    young_person_id: int | None = None,
    target: str | None = None,
    ip: str | None = None,
    **detail: Any,
) -> AuditEvent:
    """Append an audit entry to the caller's transaction (sealed into the chain shortly after)."""
    event = AuditEvent(
        at=now, action=action, actor_staff_id=actor_id, young_person_id=young_person_id,
        target=target, ip=ip, detail=detail,
    )
    session.add(event)
    return event


def entry_hash(prev: str, event: AuditEvent) -> str:
    """Hash an entry together with the hash before it."""
    body = json.dumps(
        [event.id, event.at.isoformat(), event.action, event.actor_staff_id, event.young_person_id,
         event.target, event.ip, event.detail],
        sort_keys=True, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(f"{prev}|{body}".encode()).hexdigest()


async def seal(session: AsyncSession) -> int:
    """Chain every unsealed entry onto the last sealed one, in id order; return how many."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    else:
        # Take SQLite's write lock before reading, so the last hash read is the last there is.
        await session.execute(update(AuditEvent).where(AuditEvent.id == -1).values(hash=None))
    last = await session.scalar(
        select(AuditEvent.hash).where(AuditEvent.hash.is_not(None)).order_by(AuditEvent.id.desc()).limit(1)
    )
    prev = last or GENESIS
    unsealed = (await session.scalars(select(AuditEvent).where(AuditEvent.hash.is_(None)).order_by(AuditEvent.id))).all()
    for event in unsealed:
        event.prev_hash = prev
        event.hash = prev = entry_hash(prev, event)
    await session.commit()
    return len(unsealed)


@dataclass(frozen=True)
class ChainCheck:
    entries: int
    first_broken_id: int | None

    @property
    def intact(self) -> bool:
        return self.first_broken_id is None


async def verify(session: AsyncSession) -> ChainCheck:
    """Recompute the chain from the start and name the first entry that does not fit."""
    prev, count = GENESIS, 0
    result = await session.stream_scalars(
        select(AuditEvent).where(AuditEvent.hash.is_not(None)).order_by(AuditEvent.id)
    )
    async for event in result:
        count += 1
        if event.prev_hash != prev or entry_hash(prev, event) != event.hash:
            return ChainCheck(count, event.id)
        prev = event.hash
    return ChainCheck(count, None)
