"""Staff accounts and their console sessions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime
from models.crypto import EncryptedText

DEFAULT_WORKING_HOURS: dict[str, list[str]] = {
    day: ["09:00", "17:00"] for day in ("mon", "tue", "wed", "thu", "fri")
}


class StaffRole(StrEnum):
    KEY_WORKER = "key_worker"
    MANAGER = "manager"
    ADMIN = "admin"


class StaffMember(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[StaffRole] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Weekday ("mon".."sun") -> ["HH:MM", "HH:MM"] in the deployment's time zone.
    working_hours: Mapped[dict[str, list[str]]] = mapped_column(
        JSON, default=lambda: dict(DEFAULT_WORKING_HOURS)
    )
    # TOTP two-factor: mandatory; enrolled on first sign-in, reset by an admin from the command line.
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText, default=None)
    totp_pending_secret: Mapped[str | None] = mapped_column(EncryptedText, default=None)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Their own Telegram chat, linked by them for alert notifications (never shown to young people).
    telegram_chat_id: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StaffSession(Base):
    __tablename__ = "staff_sessions"

    # sha256 of the cookie token: a leaked table cannot be replayed as cookies.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    # Set once the second factor is checked; until then the session opens nothing but the 2FA step.
    mfa_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    ip: Mapped[str | None] = mapped_column(String(45), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
