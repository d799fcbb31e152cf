"""Staff accounts: creation, passwords and console sessions."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import StaffMember, StaffRole, StaffSession

_hasher = PasswordHasher()  # argon2id with the library's current recommended costs
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
MIN_PASSWORD_LENGTH = 12
MAX_FAILURES = 5  # wrong passwords or codes in a row before the account locks
LOCK_FOR = timedelta(minutes=15)
ABSOLUTE_SESSION = timedelta(hours=12)
ISSUER = "Keyworker"


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


async def authenticate(
    session: AsyncSession, username: str, password: str, now: datetime
) -> tuple[StaffMember | None, datetime | None]:
    """Check a password: return the staff member, or None and when a locked account opens again."""
    staff = await session.scalar(
        select(StaffMember).where(StaffMember.username == username.strip().lower())
    )
    if staff is not None and staff.locked_until is not None and staff.locked_until > now:
        return None, staff.locked_until
    try:
        # Verify against a dummy hash for unknown users so timing does not reveal usernames.
        _hasher.verify(staff.password_hash if staff else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        if staff is not None:
            return None, _count_failure(staff, now)
        return None, None
    if staff is None or not staff.active:
        return None, None
    if _hasher.check_needs_rehash(staff.password_hash):
        staff.password_hash = _hasher.hash(password)
    return staff, None


def _count_failure(staff: StaffMember, now: datetime) -> datetime | None:
    staff.failed_logins += 1
    if staff.failed_logins >= MAX_FAILURES:
        staff.failed_logins = 0
        staff.locked_until = now + LOCK_FOR
        return staff.locked_until
    return None


def totp_matches(secret: str, code: str, now: datetime) -> bool:
    """Check a six-digit code against a TOTP secret, allowing one step of clock drift."""
    code = code.replace(" ", "").strip()
    return code.isdigit() and pyotp.TOTP(secret).verify(code, for_time=now, valid_window=1)


def do_begin_totp_enrolment(staff: StaffMember) -> str:
    """Make a new pending TOTP secret for the staff member to add to their authenticator app."""
    staff.totp_pending_secret = pyotp.random_base32()
    return staff.totp_pending_secret


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


async def do_check_second_factor(
    session: AsyncSession, now: datetime, staff_session: StaffSession, staff: StaffMember, code: str
) -> tuple[str | None, datetime | None]:
    """Check the code; on success replace the session with a fully signed-in one and return its token."""
    if staff.locked_until is not None and staff.locked_until > now:
        return None, staff.locked_until
    secret = staff.totp_secret or staff.totp_pending_secret
    if secret is None or not totp_matches(secret, code, now):
        return None, _count_failure(staff, now)
    if staff.totp_secret is None:
        staff.totp_secret, staff.totp_pending_secret = secret, None
    staff.failed_logins = 0
    staff_session.ended_at = now
    # A new token at sign-in: a token planted before sign-in (session fixation) is worth nothing.
    return await do_start_session(session, now, staff, mfa=True, ip=staff_session.ip), None


def check_password_again(staff: StaffMember, password: str, now: datetime) -> None:
    """Ask for the password again before a security change; wrong answers count towards the lockout."""
    if staff.locked_until is not None and staff.locked_until > now:
        raise StaffError("Too many wrong tries: this account is locked for a few minutes.")
    try:
        _hasher.verify(staff.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise StaffError(
            "Your current password is not right."
            if _count_failure(staff, now) is None
            else "Too many wrong tries: this account is locked for a few minutes."
        ) from None
    staff.failed_logins = 0


async def do_change_password(
    session: AsyncSession, now: datetime, staff: StaffMember, current: str, new: str, *, keep: StaffSession
) -> None:
    """Replace a staff member's password after checking the current one, ending their other sessions."""
    check_password_again(staff, current, now)
    if len(new) < MIN_PASSWORD_LENGTH:
        raise StaffError(f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if new == current:
        raise StaffError("Choose a password different from the current one.")
    staff.password_hash = _hasher.hash(new)
    staff.must_change_password = False
    await _end_other_sessions(session, now, staff.id, keep)


def do_begin_second_factor_change(staff: StaffMember, password: str, now: datetime) -> str:
    """Check the password again and make a pending TOTP secret for a new authenticator app."""
    check_password_again(staff, password, now)
    return do_begin_totp_enrolment(staff)


async def do_finish_second_factor_change(
    session: AsyncSession, now: datetime, staff: StaffMember, code: str, *, keep: StaffSession
) -> None:
    """Switch to the pending TOTP secret once the new app shows a right code; end the other sessions."""
    if staff.totp_pending_secret is None:
        raise StaffError("Start again: type your password first.")
    if not totp_matches(staff.totp_pending_secret, code, now):
        raise StaffError("That code is not right. Use the code the new app shows for Keyworker now.")
    staff.totp_secret, staff.totp_pending_secret = staff.totp_pending_secret, None
    await _end_other_sessions(session, now, staff.id, keep)


async def _end_other_sessions(session: AsyncSession, now: datetime, staff_id: int, keep: StaffSession) -> None:
    """End every live session of a staff member except the one making the change."""
    await session.execute(
        update(StaffSession)
        .where(StaffSession.staff_id == staff_id, StaffSession.ended_at.is_(None), StaffSession.token_hash != keep.token_hash)
        .values(ended_at=now)
    )


async def do_start_session(
    session: AsyncSession, now: datetime, staff: StaffMember, *, mfa: bool = False, ip: str | None = None
) -> str:
    """Open a console session and return its cookie token (256 random bits)."""
    token = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            token_hash=token_hash(token),
            staff_id=staff.id,
            csrf_token=secrets.token_urlsafe(32),
            mfa_at=now if mfa else None,
            ip=ip,
            created_at=now,
            last_seen_at=now,
        )
    )
    await session.flush()
    return token


async def find_session(
    session: AsyncSession, token: str, now: datetime, idle: timedelta, *, touch: bool = True
) -> tuple[StaffSession, StaffMember] | None:
    """Return the live session for a cookie token and its staff member, touching it (unless not touch: a page
    asking for something by itself, which is not someone using the console, so it keeps no session alive)."""
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
    expired = now - staff_session.last_seen_at > idle or now - staff_session.created_at > ABSOLUTE_SESSION
    if not staff.active or expired:
        staff_session.ended_at = now
        return None
    if touch and now - staff_session.last_seen_at > timedelta(minutes=1):
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


async def do_end_all_sessions(session: AsyncSession, now: datetime, staff_id: int) -> int:
    """End every live session of a staff member (they left, or an admin says so)."""
    result = await session.execute(
        update(StaffSession)
        .where(StaffSession.staff_id == staff_id, StaffSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    return result.rowcount or 0


async def do_disable_staff(session: AsyncSession, now: datetime, staff: StaffMember) -> int:
    """Disable an account and end all of its sessions at once."""
    staff.active = False
    return await do_end_all_sessions(session, now, staff.id)


async def do_change_role(session: AsyncSession, now: datetime, staff: StaffMember, role: StaffRole, *, by: StaffMember) -> None:
    """Give a staff member another role; nobody can take away their own admin role."""
    if staff.id == by.id and role != StaffRole.ADMIN:
        raise StaffError("You cannot take away your own admin role: ask another admin.")
    staff.role = StaffRole(role)
    await session.flush()


async def do_reset_second_factor(session: AsyncSession, now: datetime, staff: StaffMember) -> None:
    """Clear a staff member's 2FA so they enrol again at their next sign-in."""
    staff.totp_secret = staff.totp_pending_secret = None
    await do_end_all_sessions(session, now, staff.id)
