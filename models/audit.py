"""The audit log: append-only, each sealed entry hashing the one before it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_young_person", "young_person_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    # e.g. "login", "login_failed", "view_messages", "view_media", "export", "role_change", "handover"
    action: Mapped[str] = mapped_column(String(48))
    actor_staff_id: Mapped[int | None] = mapped_column(Integer, default=None)  # no foreign key: the log outlives accounts
    young_person_id: Mapped[int | None] = mapped_column(Integer, default=None)
    target: Mapped[str | None] = mapped_column(String(120), default=None)  # ids only, never anyone's words
    ip: Mapped[str | None] = mapped_column(String(45), default=None)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Filled in order by the sealer: sha256 of the previous hash and this entry.
    prev_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    hash: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
