"""Private notes a worker keeps on a young person: for their team only, never sent to the young person."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime
from models.crypto import EncryptedText


class Note(Base):
    __tablename__ = "notes"
    __table_args__ = (Index("ix_notes_young_person_written", "young_person_id", "written_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    young_person_id: Mapped[int] = mapped_column(ForeignKey("young_people.id", ondelete="CASCADE"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"), default=None)
    body: Mapped[str] = mapped_column(EncryptedText)
    written_at: Mapped[datetime] = mapped_column(UTCDateTime)
