"""Appointments a worker plans with a young person, their answer, and how it went."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime
from models.crypto import EncryptedText


class AppointmentStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"  # called off (before the time), or recorded as cancelled after it
    ATTENDED = "attended"
    MISSED = "missed"


class AppointmentAnswer(StrEnum):
    """What the young person said to a reminder."""

    YES = "yes"  # I'll be there
    CANT = "cant"  # I can't make it
    HELP = "help"  # I need help getting there


class Appointment(Base):
    __tablename__ = "appointments"
    __table_args__ = (
        Index("ix_appointments_young_person_starts", "young_person_id", "starts_at"),
        # Dashboards: appointments due in a period, read from the index alone (no table rows).
        Index("ix_appointments_starts_status", "starts_at", "young_person_id", "status", "answer", "reminder_sent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    young_person_id: Mapped[int] = mapped_column(ForeignKey("young_people.id", ondelete="CASCADE"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    what: Mapped[str] = mapped_column(EncryptedText)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    place: Mapped[str] = mapped_column(EncryptedText, default="")
    with_whom: Mapped[str] = mapped_column(EncryptedText, default="")
    notes: Mapped[str] = mapped_column(EncryptedText, default="")  # for the young person: they are sent these words
    status: Mapped[AppointmentStatus] = mapped_column(String(16), default=AppointmentStatus.SCHEDULED)
    # Bumped by every edit: reminders and buttons of an older revision are stale.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    # When to remind, e.g. ["1d@18:00", "2h"]: copied from the settings when it was made.
    reminders: Mapped[list[str]] = mapped_column(JSON, default=list)
    # A reminder went out (set when it is sent): the dashboards count reminded appointments from this.
    reminder_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    answer: Mapped[AppointmentAnswer | None] = mapped_column(String(16), default=None)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    outcome_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
