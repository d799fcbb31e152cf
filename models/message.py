"""Messages between a young person and the people around them, media, and inbound receipts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime
from models.crypto import EncryptedBytes, EncryptedJSON, EncryptedText


class Direction(StrEnum):
    INBOUND = "in"
    OUTBOUND = "out"


class SenderKind(StrEnum):
    YOUNG_PERSON = "young_person"
    STAFF = "staff"
    BOT = "bot"


class DeliveryStatus(StrEnum):
    RECEIVED = "received"
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    UNREACHABLE = "unreachable"


class ContentKind(StrEnum):
    TEXT = "text"
    PHOTO = "photo"
    VOICE = "voice"
    VIDEO_NOTE = "video_note"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"
    STICKER = "sticker"
    LOCATION = "location"
    BUTTON = "button"


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_young_person_created", "young_person_id", "created_at"),
        Index("ix_messages_unread", "young_person_id", "direction", "read_at"),
        # Dashboards: messages in a period, read from the index alone (bot/services/indicators/).
        Index("ix_messages_created_sender", "created_at", "sender_kind", "young_person_id", "staff_id"),
        # Dashboards: a young person's next staff message (first reply) and last human message, by seek.
        Index("ix_messages_young_person_sender_created", "young_person_id", "sender_kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    young_person_id: Mapped[int] = mapped_column(ForeignKey("young_people.id", ondelete="CASCADE"))
    direction: Mapped[Direction] = mapped_column(String(4))
    sender_kind: Mapped[SenderKind] = mapped_column(String(16))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    channel: Mapped[str | None] = mapped_column(String(16), default=None)
    content_kind: Mapped[ContentKind] = mapped_column(String(16), default=ContentKind.TEXT)
    body: Mapped[str | None] = mapped_column(EncryptedText, default=None)
    # Extras by kind: media file id and mime type, location, sticker emoji, buttons offered.
    meta: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON, default=dict)
    # Why the bot sent it (e.g. "welcome", "out_of_hours"); None for people's own words.
    purpose: Mapped[str | None] = mapped_column(String(32), default=None)
    risk_level: Mapped[str | None] = mapped_column(String(16), default=None)
    delivery_status: Mapped[DeliveryStatus] = mapped_column(String(16))
    delivery_error: Mapped[str | None] = mapped_column(String(200), default=None)
    external_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Which process is delivering it and since when: several processes share one database, and a
    # message is sent by the one that claimed it (bot/outbox.py), or after the lease by another.
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class MediaBlob(Base):
    __tablename__ = "media"

    message_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("messages.id", ondelete="CASCADE"),
        primary_key=True,
    )
    mime_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(EncryptedBytes)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InboundReceipt(Base):
    """One row per channel update handled, so a redelivered update is handled once."""

    __tablename__ = "inbound_receipts"

    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
