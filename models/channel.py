"""The channels (Telegram chat, web-chat link) a young person is reachable on."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class ChannelKind(StrEnum):
    TELEGRAM = "telegram"
    WEBCHAT = "webchat"


class ChannelStatus(StrEnum):
    ACTIVE = "active"
    UNREACHABLE = "unreachable"


class ChannelLink(Base):
    __tablename__ = "channel_links"
    __table_args__ = (UniqueConstraint("kind", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    young_person_id: Mapped[int] = mapped_column(
        ForeignKey("young_people.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[ChannelKind] = mapped_column(String(16))
    # Telegram chat id, or the sha256 of a web-chat link token (the token itself is never stored).
    address: Mapped[str] = mapped_column(String(128))
    status: Mapped[ChannelStatus] = mapped_column(String(16), default=ChannelStatus.ACTIVE)
    unreachable_since: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
