"""Check-ins: each young person's schedule, and one row per check-in sent with how it went."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class CheckInSchedule(Base):
    """When a young person is asked how they are: days of the week at one local time."""

    __tablename__ = "checkin_schedules"

    young_person_id: Mapped[int] = mapped_column(
        ForeignKey("young_people.id", ondelete="CASCADE"), primary_key=True
    )
    # Weekdays "mon".."sun" in week order; empty means no scheduled check-ins.
    days: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Local wall-clock "HH:MM" in the deployment's time zone.
    local_time: Mapped[str] = mapped_column(String(5), default="09:00")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Who changed it last: a staff member, or None when the young person did through /settings.
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)


class CheckInSource(StrEnum):
    SCHEDULED = "scheduled"
    ASKED = "asked"  # the young person started it (/checkin, the menu, the welcome button)


class CheckIn(Base):
    """One check-in sent, and its answer or its miss, with times for the statistics."""

    __tablename__ = "checkins"
    __table_args__ = (
        Index("ix_checkins_young_person_sent", "young_person_id", "sent_at"),
        # Dashboards: check-ins in a period counted from the index alone.
        Index("ix_checkins_sent", "sent_at", "young_person_id", "answered_at", "missed"),
        Index("ix_checkins_answered", "answered_at", "answer", "young_person_id"),  # dashboards: good news shared
        # Dashboards: young people with 3+ missed in a row, counted from the few check-ins that were a third.
        Index("ix_checkins_third_missed", "sent_at", "young_person_id", postgresql_where=text("third_missed"), sqlite_where=text("third_missed")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    young_person_id: Mapped[int] = mapped_column(ForeignKey("young_people.id", ondelete="CASCADE"))
    source: Mapped[CheckInSource] = mapped_column(String(16))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The bot's check-in message (its buttons carry this check-in's id).
    message_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("messages.id", ondelete="SET NULL"), default=None
    )
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # "mood", "talk", "good_news" or "text" (free text instead of a button).
    answer: Mapped[str | None] = mapped_column(String(16), default=None)
    mood: Mapped[int | None] = mapped_column(SmallInteger, default=None)  # 1 (very low) .. 5 (great)
    # The answer to "do you want your worker to get in touch?" after a low mood.
    wants_contact: Mapped[bool | None] = mapped_column(Boolean, default=None)
    # Their own words, when they answered in free text or shared good news.
    answer_message_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("messages.id", ondelete="SET NULL"), default=None
    )
    nudged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    missed: Mapped[bool] = mapped_column(Boolean, default=False)
    missed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Missed, and the two answered-or-missed check-ins before it were missed too: at least the 3rd missed in a
    # row (a paused one, neither, does not end a run). Kept by bot.services.checkin.mark_misses_in_a_row.
    third_missed: Mapped[bool] = mapped_column(Boolean, default=False)
