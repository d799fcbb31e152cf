"""Flags on a young person that need a worker's attention, shown on the caseload until cleared."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class Flag(Base):
    __tablename__ = "flags"
    __table_args__ = (Index("ix_flags_open", "young_person_id", "cleared_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    young_person_id: Mapped[int] = mapped_column(ForeignKey("young_people.id", ondelete="CASCADE"))
    # e.g. "wants_contact", "not_heard_from", "appointment_help", "risk_concern"
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    cleared_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
