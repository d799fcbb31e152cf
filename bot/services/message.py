"""Messages: recording what a young person sends, queueing replies, reading history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import (
    ChannelKind,
    ChannelLink,
    ChannelStatus,
    ContentKind,
    DeliveryStatus,
    Direction,
    MediaBlob,
    Message,
    SenderKind,
    StaffMember,
    YoungPerson,
)

MAX_REPLY_LENGTH = 20_000


class MessageError(ValueError):
    """A message that cannot be sent, with a message fit to show."""


async def do_record_inbound(
    session: AsyncSession,
    now: datetime,
    young_person: YoungPerson,
    link: ChannelLink,
    *,
    content_kind: ContentKind,
    body: str | None,
    meta: dict[str, Any],
    risk_level: str | None,
    external_id: str | None = None,
    flush: bool = True,
) -> Message:
    """Store what a young person sent, before anything else is done with it.

    flush=False leaves the insert to the next flush (at the latest the commit), where several
    messages go in one statement: its id is None until then (Turn.message_id() flushes for it).
    """
    message = Message(
        young_person_id=young_person.id,
        direction=Direction.INBOUND,
        sender_kind=SenderKind.YOUNG_PERSON,
        channel=link.kind,
        content_kind=content_kind,
        body=body,
        meta=meta,
        risk_level=risk_level,
        delivery_status=DeliveryStatus.RECEIVED,
        external_id=external_id,
        created_at=now,
    )
    session.add(message)
    young_person.last_inbound_at = now
    young_person.last_message_at = now
    link.last_inbound_at = now
    if link.status == ChannelStatus.UNREACHABLE:
        # They wrote to us, so the channel works again (for example, they unblocked the bot).
        link.status = ChannelStatus.ACTIVE
        link.unreachable_since = None
    if flush:
        await session.flush()
    return message


async def reply_link(session: AsyncSession, young_person_id: int) -> ChannelLink | None:
    """Pick the channel a reply goes to: the one they last wrote from, else the newest link."""
    return await session.scalar(
        select(ChannelLink)
        .where(ChannelLink.young_person_id == young_person_id)
        .order_by(
            ChannelLink.last_inbound_at.is_(None),
            ChannelLink.last_inbound_at.desc(),
            ChannelLink.linked_at.desc(),
        )
        .limit(1)
    )


async def do_queue_outbound(
    session: AsyncSession,
    now: datetime,
    young_person: YoungPerson,
    *,
    body: str,
    staff: StaffMember | None = None,
    purpose: str | None = None,
    meta: dict[str, Any] | None = None,
    link: ChannelLink | None = None,
    flush: bool = True,
) -> Message:
    """Store a message for a young person as pending; the outbox delivers it after commit.

    flush=False leaves the insert to the next flush, with others (its id is None until then).
    """
    body = body.strip()
    if not body:
        raise MessageError("The message is empty.")
    if len(body) > MAX_REPLY_LENGTH:
        raise MessageError(f"That message is too long ({MAX_REPLY_LENGTH} characters at most).")
    link = link or await reply_link(session, young_person.id)
    message = Message(
        young_person_id=young_person.id,
        direction=Direction.OUTBOUND,
        sender_kind=SenderKind.STAFF if staff else SenderKind.BOT,
        staff_id=staff.id if staff else None,
        channel=link.kind if link else None,
        content_kind=ContentKind.TEXT,
        body=body,
        meta=meta or {},
        purpose=purpose,
        delivery_status=DeliveryStatus.PENDING if link else DeliveryStatus.UNREACHABLE,
        delivery_error=None if link else "no channel linked yet",
        created_at=now,
    )
    session.add(message)
    young_person.last_message_at = now
    if flush:
        await session.flush()
    return message


async def history(session: AsyncSession, young_person_id: int, limit: int = 200) -> list[Message]:
    """Return the newest messages of a conversation, oldest first."""
    rows = await session.scalars(
        select(Message)
        .where(Message.young_person_id == young_person_id)
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(limit)
    )
    return list(reversed(rows.all()))


async def do_mark_read(session: AsyncSession, now: datetime, young_person_id: int) -> int:
    """Mark every unread message from a young person as read; return how many."""
    result = await session.execute(
        update(Message)
        .where(
            Message.young_person_id == young_person_id,
            Message.direction == Direction.INBOUND,
            Message.read_at.is_(None),
        )
        .values(read_at=now)
    )
    return result.rowcount or 0


async def staff_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    """Map staff ids to display names, for labelling messages."""
    if not ids:
        return {}
    rows = await session.execute(
        select(StaffMember.id, StaffMember.display_name).where(StaffMember.id.in_(ids))
    )
    return {row[0]: row[1] for row in rows}


async def do_store_media(
    session: AsyncSession, now: datetime, message: Message, data: bytes, mime_type: str
) -> MediaBlob:
    """Keep the bytes of a photo, voice note or file with its message."""
    blob = MediaBlob(
        message_id=message.id, mime_type=mime_type, size=len(data), data=data, fetched_at=now
    )
    session.add(blob)
    await session.flush()
    return blob


def is_webchat(link: ChannelLink | None) -> bool:
    return link is not None and link.kind == ChannelKind.WEBCHAT
