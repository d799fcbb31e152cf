"""The channels (Telegram chat, web-chat link) a young person is reachable on."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, validates

from models import crypto
from models.base import Base, UTCDateTime
from models.crypto import EncryptedText


class ChannelKind(StrEnum):
    TELEGRAM = "telegram"
    WEBCHAT = "webchat"


class ChannelStatus(StrEnum):
    ACTIVE = "active"
    UNREACHABLE = "unreachable"


class ChannelLink(Base):
    __tablename__ = "channel_links"
    __table_args__ = (UniqueConstraint("kind", "address_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    young_person_id: Mapped[int] = mapped_column(
        ForeignKey("young_people.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[ChannelKind] = mapped_column(String(16))
    # Telegram chat id, or the sha256 of a web-chat link token (the token itself is never stored):
    # encrypted at rest, and found through address_key, a keyed hash of it (see address_key()).
    address: Mapped[str] = mapped_column(EncryptedText)
    address_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[ChannelStatus] = mapped_column(String(16), default=ChannelStatus.ACTIVE)
    unreachable_since: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    @validates("address")
    def _keep_address_key(self, _name: str, address: str) -> str:
        self.address_key = address_key(address)
        return address


def address_key(address: str) -> str:
    """The keyed hash a channel address is looked up by (a chat id is contact data: never stored plain)."""
    return crypto.ring().lookup_key(address)
