"""Invites: one-time codes that link a young person's Telegram chat or web chat."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import ChannelKind, ChannelLink, ChannelStatus, Invite, YoungPerson
from models.channel import address_key

WEBCHAT_TOKEN_PREFIX = "w"
INVITE_PREFIX = "i"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedInvite:
    """An invite as shown once to the worker: the code itself is never stored."""

    code: str
    expires_at: datetime
    webchat_url: str
    telegram_url: str | None


class RedeemFailure(StrEnum):
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"


def invite_links(code: str, public_url: str, bot_username: str | None) -> tuple[str, str | None]:
    """Return the web-chat URL and the Telegram deep link for an invite code."""
    telegram = f"https://t.me/{bot_username}?start={code}" if bot_username else None
    return f"{public_url}/c/{code}", telegram


async def do_issue_invite(
    session: AsyncSession,
    now: datetime,
    young_person: YoungPerson,
    *,
    ttl: timedelta,
    public_url: str,
    bot_username: str | None,
    created_by_id: int | None,
) -> IssuedInvite:
    """Revoke any unused invite for the young person and issue a fresh one."""
    await session.execute(
        update(Invite)
        .where(
            Invite.young_person_id == young_person.id,
            Invite.used_at.is_(None),
            Invite.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    # 128 random bits; Telegram's start parameter allows [A-Za-z0-9_-], up to 64 characters.
    code = INVITE_PREFIX + secrets.token_urlsafe(16)
    invite = Invite(
        young_person_id=young_person.id,
        code_hash=_hash(code),
        created_by_id=created_by_id,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(invite)
    await session.flush()
    webchat, telegram = invite_links(code, public_url, bot_username)
    return IssuedInvite(code, invite.expires_at, webchat, telegram)


async def find_invite(session: AsyncSession, code: str, now: datetime) -> Invite | RedeemFailure:
    """Look up a usable invite by its code, or say why it cannot be used."""
    invite = await session.scalar(select(Invite).where(Invite.code_hash == _hash(code.strip())))
    if invite is None or invite.revoked_at is not None:
        return RedeemFailure.UNKNOWN
    if invite.used_at is not None:
        return RedeemFailure.USED
    if invite.expires_at <= now:
        return RedeemFailure.EXPIRED
    return invite


async def _claim(session: AsyncSession, now: datetime, code: str, kind: ChannelKind) -> Invite | RedeemFailure:
    invite = await find_invite(session, code, now)
    if isinstance(invite, RedeemFailure):
        return invite
    # Guarded update: of two concurrent redemptions only one can flip used_at.
    claimed = await session.execute(
        update(Invite)
        .where(Invite.id == invite.id, Invite.used_at.is_(None))
        .values(used_at=now, used_channel=str(kind))
    )
    if claimed.rowcount != 1:
        return RedeemFailure.USED
    return invite


async def do_redeem_invite(
    session: AsyncSession, now: datetime, code: str, *, kind: ChannelKind, address: str
) -> ChannelLink | RedeemFailure:
    """Use an invite once to link a channel address (Telegram chat, web-chat token) to its young person."""
    invite = await _claim(session, now, code, kind)
    if isinstance(invite, RedeemFailure):
        return invite
    return await _link(session, now, invite.young_person_id, kind, address)


async def _link(
    session: AsyncSession, now: datetime, young_person_id: int, kind: ChannelKind, address: str
) -> ChannelLink:
    if kind == ChannelKind.WEBCHAT:
        # One private web-chat link per young person: a new one retires the old.
        where = (ChannelLink.young_person_id == young_person_id, ChannelLink.kind == kind)
    else:
        # A phone that was linked before (even to someone else) now belongs to this invite.
        where = (ChannelLink.kind == kind, ChannelLink.address_key == address_key(address))
    link = await session.scalar(select(ChannelLink).where(*where))
    if link is None:
        link = ChannelLink(young_person_id=young_person_id, kind=kind, address=address, linked_at=now)
        session.add(link)
    else:
        link.young_person_id = young_person_id
        link.address = address
        link.status = ChannelStatus.ACTIVE
        link.unreachable_since = None
        link.linked_at = now
    young_person = await session.get(YoungPerson, young_person_id)
    if young_person is not None and young_person.linked_at is None:
        young_person.linked_at = now
    await session.flush()
    return link


def new_webchat_token() -> tuple[str, str]:
    """Make a web-chat link token and the address it is stored under."""
    token = WEBCHAT_TOKEN_PREFIX + secrets.token_urlsafe(24)
    return token, _hash(token)


def webchat_address(token: str) -> str:
    return _hash(token)


async def do_issue_webchat_link(session: AsyncSession, now: datetime, young_person_id: int) -> str:
    """Give a young person a fresh private web-chat link, retiring any older one."""
    token, address = new_webchat_token()
    await _link(session, now, young_person_id, ChannelKind.WEBCHAT, address)
    return token
