"""Updates that kept failing for a reason other than the database: kept aside, encrypted, until staff handle them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime
from models.crypto import EncryptedText


class UndeliveredUpdate(Base):
    __tablename__ = "undelivered_updates"
    __table_args__ = (
        UniqueConstraint("source", "update_id"),
        Index("ix_undelivered_updates_open", "resolved_at", "young_person_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(16))  # "telegram", as in inbound_receipts
    update_id: Mapped[int] = mapped_column(BigInteger)
    # Whose chat it came from, when the chat is linked; None for a sender nobody knows.
    young_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("young_people.id", ondelete="CASCADE"), default=None
    )
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)  # first seen failing
    kept_at: Mapped[datetime] = mapped_column(UTCDateTime)  # set aside after the last try
    failures: Mapped[int] = mapped_column(Integer)
    # The exception's type and where it was raised ("KeyError at checkin.py:88"): never its text.
    error: Mapped[str] = mapped_column(String(200))
    # The words are checked for risk like any other text, so staff see how urgent it may be.
    risk_level: Mapped[str | None] = mapped_column(String(16), default=None)
    raw: Mapped[str] = mapped_column(EncryptedText)  # the update exactly as it arrived (JSON)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"), default=None)
