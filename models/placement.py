"""Placement moves: each time a young person moved home, as their worker recorded it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime
from models.crypto import EncryptedText


class PlacementMove(Base):
    """One move of placement (a breakdown or a planned move); the dashboards count them."""

    __tablename__ = "placement_moves"
    __table_args__ = (Index("ix_placement_moves_young_person_moved", "young_person_id", "moved_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    young_person_id: Mapped[int] = mapped_column(ForeignKey("young_people.id", ondelete="CASCADE"))
    moved_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the move happened: midday local time of the day given, so its UTC date is that day
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    note: Mapped[str | None] = mapped_column(EncryptedText, default=None)  # for staff only
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
