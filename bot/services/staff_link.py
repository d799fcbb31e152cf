"""Links that let a staff member connect their own Telegram for alert notices."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

PREFIX = "s"
LIFETIME = timedelta(hours=1)


def _signature(secret: str, staff_id: int, expires: int) -> str:
    mac = hmac.new(secret.encode(), f"staff-link:{staff_id}:{expires}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def make_code(secret: str, staff_id: int, now: datetime) -> str:
    """Make a signed, short-lived /start code for a staff member (fits Telegram's 64 characters)."""
    expires = int((now + LIFETIME).timestamp())
    return f"{PREFIX}{staff_id}-{expires}-{_signature(secret, staff_id, expires)}"


def read_code(secret: str, code: str, now: datetime) -> int | None:
    """Return the staff id a code was made for, or None if it is forged or expired."""
    try:
        staff_part, expires_part, signature = code.removeprefix(PREFIX).split("-")
        staff_id, expires = int(staff_part), int(expires_part)
    except ValueError:
        return None
    if not hmac.compare_digest(signature, _signature(secret, staff_id, expires)):
        return None
    return staff_id if now.timestamp() < expires else None
