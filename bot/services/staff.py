"""Staff accounts: creation, passwords and console sessions."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import StaffMember, StaffRole, StaffSession

_hasher = PasswordHasher()  # argon2id with the library's current recommended costs
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
MIN_PASSWORD_LENGTH = 12


class StaffError(ValueError):
    """A staff change that cannot be made, with a message fit to show."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_password() -> str:
    """Make a random one-time password that is easy to type."""
    return "-".join(secrets.token_hex(3) for _ in range(4))


async def do_create_staff(
    session: AsyncSession,
    now: datetime,
    *,
    username: str,
    display_name: str,
    role: StaffRole,
    password: str | None = None,
) -> tuple[StaffMember, str]:
    """Add a staff account and return it with its one-time password."""
    username = username.strip().lower()
    if not username or not username.replace(".", "").replace("-", "").replace("_", "").isalnum():
        raise StaffError(f"Username {username!r} must be letters, digits, '.', '-' or '_'.")
    if not display_name.strip():
        raise StaffError("A staff member needs a name.")
    if await session.scalar(select(StaffMember.id).where(StaffMember.username == username)):
        raise StaffError(f"Username {username!r} is already taken.")
    password = password or new_password()
    staff = StaffMember(
        username=username,
        display_name=display_name.strip(),
        role=StaffRole(role),
        password_hash=_hasher.hash(password),
        must_change_password=True,
        created_at=now,
    )
    session.add(staff)
    await session.flush()
    return staff, password


async def authenticate(session: AsyncSession, username: str, password: str) -> StaffMember | None:
    """Return the active staff member with these credentials, or None."""
    staff = await session.scalar(
        select(StaffMember).where(StaffMember.username == username.strip().lower())
    )
    try:
        # Verify against a dummy hash for unknown users so timing does not reveal usernames.
        _hasher.verify(staff.password_hash if staff else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if staff is None or not staff.active:
        return None
    if _hasher.check_needs_rehash(staff.password_hash):
        staff.password_hash = _hasher.hash(password)
    return staff


async def do_change_password(staff: StaffMember, current: str, new: str) -> None:
    """Replace a staff member's password after checking the current one."""
    try:
        _hasher.verify(staff.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise StaffError("Your current password is not right.") from None
    if len(new) < MIN_PASSWORD_LENGTH:
        raise StaffError(f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if new == current:
        raise StaffError("Choose a password different from the current one.")
    staff.password_hash = _hasher.hash(new)
    staff.must_change_password = False


async def do_start_session(session: AsyncSession, now: datetime, staff: StaffMember) -> str:
    """Open a console session and return its cookie token (256 random bits)."""
    token = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            token_hash=token_hash(token),
            staff_id=staff.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
        )
    )
    await session.flush()
    return token


async def find_session(
    session: AsyncSession, token: str, now: datetime, idle: timedelta
) -> tuple[StaffSession, StaffMember] | None:
    """Return the live session for a cookie token and its staff member, touching it."""
    row = (
        await session.execute(
            select(StaffSession, StaffMember)
            .join(StaffMember, StaffMember.id == StaffSession.staff_id)
            .where(StaffSession.token_hash == token_hash(token), StaffSession.ended_at.is_(None))
        )
    ).first()
    if row is None:
        return None
    staff_session, staff = row
    if not staff.active or now - staff_session.last_seen_at > idle:
        staff_session.ended_at = now
        return None
    if now - staff_session.last_seen_at > timedelta(minutes=1):
        staff_session.last_seen_at = now
    return staff_session, staff


async def do_end_session(session: AsyncSession, now: datetime, token: str) -> None:
    """End the session behind a cookie token."""
    await session.execute(
        update(StaffSession)
        .where(StaffSession.token_hash == token_hash(token), StaffSession.ended_at.is_(None))
        .values(ended_at=now)
    )


async def find_staff(session: AsyncSession, username: str) -> StaffMember | None:
    return await session.scalar(
        select(StaffMember).where(StaffMember.username == username.strip().lower())
    )
