"""What the bot is waiting for from a young person in a multi-step flow (one row per young person)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class ConversationState(Base):
    __tablename__ = "conversation_states"

    young_person_id: Mapped[int] = mapped_column(
        ForeignKey("young_people.id", ondelete="CASCADE"), primary_key=True
    )
    flow: Mapped[str] = mapped_column(String(32))  # e.g. "checkin", "wellbeing", "settings"
    step: Mapped[str] = mapped_column(String(32))  # a key of the flow's table of steps
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
