"""The people around a young person: hub team members, a worker's leave and cover, handovers."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, and_
from sqlalchemy.orm import Mapped, foreign, mapped_column, relationship

from models.base import Base, UTCDateTime
from models.crypto import EncryptedText
from models.young_person import YoungPerson


class TeamMember(Base):
    """A named member of hub staff on a young person's team (life coach, family-circles worker...)."""

    __tablename__ = "team_members"
    __table_args__ = (Index("ix_team_members_staff", "staff_id", "removed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    young_person_id: Mapped[int] = mapped_column(ForeignKey("young_people.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    # What the young person is told they do, e.g. "life coach": shown after their name.
    role: Mapped[str] = mapped_column(String(60))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    # Kept after removal so the record shows who was on the team when.
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)


class LeavePeriod(Base):
    """A worker's time away (whole local days) and who looks after their caseload meanwhile."""

    __tablename__ = "leave_periods"
    __table_args__ = (Index("ix_leave_periods_cover", "cover_id", "cover_ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    cover_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    starts_on: Mapped[date] = mapped_column(Date)  # first day away
    ends_on: Mapped[date] = mapped_column(Date)  # last day away
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    # Cover is switched on and off at recorded moments (by the scheduler, or at once when a leave
    # is recorded late or ended early): access checks read these, never the wall clock.
    cover_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    cover_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Who ended it early or cancelled it; None when it ran its course.
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)

    @property
    def state(self) -> str:
        if self.cover_started_at is None:
            return "planned" if self.cover_ended_at is None else "cancelled"
        return "current" if self.cover_ended_at is None else "over"


class Handover(Base):
    """A recorded change of key worker: from whom, to whom, who did it, when and why."""

    __tablename__ = "handovers"

    id: Mapped[int] = mapped_column(primary_key=True)
    young_person_id: Mapped[int] = mapped_column(ForeignKey("young_people.id", ondelete="CASCADE"), index=True)
    from_staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    to_staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    by_staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Staff-only words about the young person: encrypted at rest like messages.
    note: Mapped[str] = mapped_column(EncryptedText, default="")


# Loaded with every young person (one extra query per load, batched), so the synchronous checks
# may_view() and audience() can name everyone who looks after them now without touching the
# database. Added here rather than in models/young_person.py to keep this feature in one slice.
YoungPerson.current_team = relationship(  # type: ignore[attr-defined]
    TeamMember,
    primaryjoin=and_(TeamMember.young_person_id == YoungPerson.id, TeamMember.removed_at.is_(None)),
    viewonly=True,
    lazy="selectin",
)
YoungPerson.current_cover = relationship(  # type: ignore[attr-defined]
    LeavePeriod,
    primaryjoin=and_(
        foreign(LeavePeriod.staff_id) == YoungPerson.key_worker_id,
        LeavePeriod.cover_started_at.is_not(None),
        LeavePeriod.cover_ended_at.is_(None),
    ),
    viewonly=True,
    lazy="selectin",
)
