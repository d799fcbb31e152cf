"""The dashboard rollup: reply waits, weekly message counts and wellbeing scores worked out once from the stored rows, up to a watermark.

The manager dashboard reads these instead of reading every message of the period on each page, and
reads the raw messages only after the watermark (see docs/indicators.md, "How it stays fast").
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime

REPLY_WAITS = "reply_waits"  # the RollupMark of the reply_waits table
MESSAGE_WEEKS = "message_weeks"  # the RollupMark of the message_weeks table
WELLBEING_SCORES = "wellbeing_scores"  # the RollupMark of the wellbeing_scores table


class ReplyWait(Base):
    """One time a young person waited for a person to answer: their message, and the first staff reply (if any yet)."""

    __tablename__ = "reply_waits"
    __table_args__ = (
        # The page: the waits that began in its periods, read from the index alone.
        Index("ix_reply_waits_asked", "asked_at", "young_person_id", "replied_at", "seconds", "working", "on_time"),
        # The job: waits not yet answered or judged (a few, however long the history).
        Index("ix_reply_waits_unjudged", "asked_at", sqlite_where=text("seconds IS NULL"), postgresql_where=text("seconds IS NULL")),
    )

    # The young person's message that started the wait: one row per wait, so rebuilding a span is idempotent.
    message_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    young_person_id: Mapped[int] = mapped_column(ForeignKey("young_people.id", ondelete="CASCADE"))
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The first staff message after it, when that came before the watermark; NULL while none had.
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Worked out once, in the service's working week (RollupMark.basis), so the page need not:
    seconds: Mapped[float | None] = mapped_column(Float, default=None)  # replied_at - asked_at
    working: Mapped[bool] = mapped_column(default=False)  # asked in working hours
    on_time: Mapped[bool | None] = mapped_column(default=None)  # answered within one working day (NULL: no answer yet)


class MessageWeek(Base):
    """How many messages a young person (or a staff member, to them) sent on each day of one local week.

    Messages never change once stored, so the counts only grow as the watermark moves on. Days and weeks are
    local to the time zone named in the RollupMark's basis; only messages before its watermark are counted.
    """

    __tablename__ = "message_weeks"
    __table_args__ = (
        # Erasure and the few weeks a change of key worker cuts: a young person's weeks.
        Index("ix_message_weeks_young_person", "young_person_id", "week"),
        # SQLite keeps the rows in key order, so a page reads its weeks' rows in one stretch.
        {"sqlite_with_rowid": False},
    )

    # The key leads with the week: the page reads the weeks of its periods.
    week: Mapped[date] = mapped_column(Date, primary_key=True)  # the local Monday
    sender: Mapped[str] = mapped_column(String(16), primary_key=True)  # "young_person" or "staff" (the bot's are not counted)
    young_person_id: Mapped[int] = mapped_column(ForeignKey("young_people.id", ondelete="CASCADE"), primary_key=True)
    staff_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # who sent them: the staff member, or 0 (the young person, or staff unnamed)
    # Messages on Monday (d0) to Sunday (d6), local days.
    d0: Mapped[int] = mapped_column(Integer, default=0)
    d1: Mapped[int] = mapped_column(Integer, default=0)
    d2: Mapped[int] = mapped_column(Integer, default=0)
    d3: Mapped[int] = mapped_column(Integer, default=0)
    d4: Mapped[int] = mapped_column(Integer, default=0)
    d5: Mapped[int] = mapped_column(Integer, default=0)
    d6: Mapped[int] = mapped_column(Integer, default=0)
    # The first and last of them: whoever's caseload the young person was on for all of that, had them all.
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WellbeingScore(Base):
    """One score of one completed wellbeing response, with the young person's score of that key before and after it.

    A completed response never changes, so a score and the one before it are settled once stored; the one after
    it is filled in when it comes. Scores of a key are in order of completion (then response id).
    """

    __tablename__ = "wellbeing_scores"
    __table_args__ = (
        # The job: a young person's scores of a key in order (the ones before and after a new score), and erasure.
        Index("ix_wellbeing_scores_young_person", "young_person_id", "questionnaire", "key", "completed_at"),
        # SQLite keeps the rows in key order, so a page reads its period's scores in one stretch.
        {"sqlite_with_rowid": False},
    )

    # The key leads with the questionnaire and the time: the page reads one questionnaire's scores in a period.
    questionnaire: Mapped[str] = mapped_column(String(32), primary_key=True)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    # The response (no foreign key: its rows go with the young person's, and a key would make each delete look here).
    response_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(32), primary_key=True)  # the score's id in the questionnaire
    young_person_id: Mapped[int] = mapped_column(ForeignKey("young_people.id", ondelete="CASCADE"))
    value: Mapped[float] = mapped_column(Float)
    # Their score of this key just before this one, whenever it was (NULL: this is their first).
    prev_value: Mapped[float | None] = mapped_column(Float, default=None)
    prev_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # When their next score of this key came, if it came before the watermark (NULL: none yet).
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class RollupMark(Base):
    """How far a rollup is built: every stored row before built_to is in it."""

    __tablename__ = "rollup_marks"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    built_to: Mapped[datetime] = mapped_column(UTCDateTime)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the job last ran
    basis: Mapped[str] = mapped_column(String(400), default="")  # the time zone and working week it was worked out in


class DashboardView(Base):
    """The figures of one dashboard view (a period, a scope, whose rows), as worked out at computed_at.

    A page asking for a view within a minute of its computation is shown these; the dashboard_refresh job works
    out again every view looked at lately (bot/services/indicators/kept.py, docs/indicators.md "Kept fresh").
    Only figures and staff names: no young person's words or name.
    """

    __tablename__ = "dashboard_views"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # what the view is of (kept.view_key)
    period_name: Mapped[str] = mapped_column(String(16))  # "week", "4weeks", "quarter" or "custom"
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    scope_kind: Mapped[str] = mapped_column(String(16))
    staff_id: Mapped[int | None] = mapped_column(Integer, default=None)  # the scope's worker or team member
    own: Mapped[int | None] = mapped_column(Integer, default=None)  # the tables show only this staff member's rows
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the moment the figures are for
    viewed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # when a page last asked for it
    figures: Mapped[str] = mapped_column(Text)  # the Dashboard as JSON (kept.dump)
