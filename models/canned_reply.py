"""Canned replies: a worker's own short messages, kept ready to drop into the reply box and edit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime
from models.crypto import EncryptedText


class CannedReply(Base):
    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(80))
    # "{name}" is replaced by the young person's preferred name when it is put in the reply box.
    body: Mapped[str] = mapped_column(EncryptedText)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
