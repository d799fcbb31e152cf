"""Scheduled jobs: the durable source of truth for everything the service sends on its own."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class JobState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    DROPPED = "dropped"  # no longer relevant (e.g. a reminder for an appointment already past)
    CANCELLED = "cancelled"
    FAILED = "failed"


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state_due", "state", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    # Unique: scheduling the same thing twice (two processes, a retried request) makes one job.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    young_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("young_people.id", ondelete="CASCADE"), index=True, default=None
    )
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[JobState] = mapped_column(String(16), default=JobState.PENDING)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    outcome: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
