"""Safeguarding alerts, what staff did about them, and the duty rota they escalate to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime
from models.crypto import EncryptedText


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_open", "closed_at", "raised_at"),
        Index("ix_alerts_raised", "raised_at"),  # dashboards: alerts raised in a period
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    young_person_id: Mapped[int] = mapped_column(ForeignKey("young_people.id", ondelete="CASCADE"), index=True)
    # The message that raised it (None when raised by a button or a worker).
    message_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("messages.id", ondelete="SET NULL"), default=None
    )
    level: Mapped[str] = mapped_column(String(16))  # "urgent" | "concern"
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(String(32))  # "message", "not_ok", "help", "missing_reply"
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    last_escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class AlertAction(Base):
    """One thing that happened to an alert, with its time: the record a council will ask for."""

    __tablename__ = "alert_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    kind: Mapped[str] = mapped_column(String(16))  # raised, escalated, acknowledged, action, closed
    note: Mapped[str | None] = mapped_column(EncryptedText, default=None)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class DutyShift(Base):
    """Who is on the duty rota when: escalations go to them and to every manager."""

    __tablename__ = "duty_shifts"
    __table_args__ = (Index("ix_duty_shifts_time", "starts_at", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SafetyPlan(Base):
    """A young person's own safety plan, written with their worker."""

    __tablename__ = "safety_plans"

    young_person_id: Mapped[int] = mapped_column(ForeignKey("young_people.id", ondelete="CASCADE"), primary_key=True)
    warning_signs: Mapped[str] = mapped_column(EncryptedText, default="")
    things_that_help: Mapped[str] = mapped_column(EncryptedText, default="")
    people_and_places: Mapped[str] = mapped_column(EncryptedText, default="")
    who_to_call: Mapped[str] = mapped_column(EncryptedText, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
