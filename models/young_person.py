"""Young people on a key worker's caseload."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime
from models.crypto import EncryptedText


class YoungPerson(Base):
    __tablename__ = "young_people"

    id: Mapped[int] = mapped_column(primary_key=True)
    full_name: Mapped[str] = mapped_column(EncryptedText)
    preferred_name: Mapped[str] = mapped_column(EncryptedText)
    # Keyed hashes of the name's parts: finds people by name without decrypting anyone.
    name_index: Mapped[str] = mapped_column(String(400), default="")
    key_worker_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    language: Mapped[str] = mapped_column(String(8), default="en")
    # Local "HH:MM": prompts and reminders that fall between them wait until they end.
    quiet_start: Mapped[str] = mapped_column(String(5), default="21:30")
    quiet_end: Mapped[str] = mapped_column(String(5), default="08:00")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    linked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Denormalised for sorting the caseload without scanning messages.
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Data rights (bot/services/opt_out.py, bot/services/data_rights.py): /stop pauses prompts and
    # reminders until /start; a worker records when the case closed; retention erases it later.
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    left_service_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
