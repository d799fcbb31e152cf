"""Wellbeing prompts: each young person's plan, and every questionnaire they were sent with its answers."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime
from models.crypto import EncryptedText


class WellbeingPlan(Base):
    """Which questionnaire a young person is sent, and how often (a missing row means the defaults)."""

    __tablename__ = "wellbeing_plans"

    young_person_id: Mapped[int] = mapped_column(
        ForeignKey("young_people.id", ondelete="CASCADE"), primary_key=True
    )
    questionnaire: Mapped[str] = mapped_column(String(32))  # a content/questionnaires/<id>.toml
    frequency: Mapped[str] = mapped_column(String(16))  # "weekly", "fortnightly", "monthly", "quarterly", "off"
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Bumped at every change: the scheduled job carries it, so a job from an older plan knows it is stale.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)


class ResponseStatus(StrEnum):
    OPEN = "open"  # sent or started: can be carried on
    COMPLETE = "complete"  # every question answered or skipped
    CLOSED = "closed"  # left part way and replaced by a newer one, or too old to carry on


class WellbeingResponse(Base):
    """One questionnaire sent to (or started by) a young person, with its scores so far."""

    __tablename__ = "wellbeing_responses"
    __table_args__ = (
        Index("ix_wellbeing_responses_young_person_started", "young_person_id", "started_at"),
        Index("ix_wellbeing_responses_questionnaire_completed", "questionnaire", "completed_at"),  # dashboards
        Index("ix_wellbeing_responses_completed", "completed_at"),  # the dashboard rollup: responses completed since its last run
        # Dashboards: a young person's last score before a period (their baseline), found without reading the rest.
        Index("ix_wellbeing_responses_young_person_completed", "young_person_id", "questionnaire", "completed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    young_person_id: Mapped[int] = mapped_column(ForeignKey("young_people.id", ondelete="CASCADE"))
    questionnaire: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    trigger: Mapped[str] = mapped_column(String(16))  # "scheduled", "worker" (send now), "self" (/wellbeing)
    status: Mapped[ResponseStatus] = mapped_column(String(16), default=ResponseStatus.OPEN)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Score id -> value (None when too few of its questions were answered), recomputed at each answer.
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class WellbeingAnswer(Base):
    """One answer (a number, a choice, words, or a skip) to one question, with its time."""

    __tablename__ = "wellbeing_answers"
    __table_args__ = (
        UniqueConstraint("response_id", "question", name="uq_wellbeing_answers_response_question"),
        Index("ix_wellbeing_answers_answered", "answered_at"),  # dashboards: answers in a period
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("wellbeing_responses.id", ondelete="CASCADE"), index=True)
    question: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(SmallInteger)
    value: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    text: Mapped[str | None] = mapped_column(EncryptedText, default=None)  # their own words: encrypted at rest
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)
