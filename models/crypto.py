"""Encryption at rest: column types that encrypt on write and decrypt on read, and the keys they use.

Keys never live in the database. They come from KEYWORKER_ENCRYPTION_KEYS (Fernet keys, newest
first) and KEYWORKER_INDEX_KEY, or from a key file; the file is re-read when it changes, so a
running service picks up a rotated key without a restart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
import unicodedata
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import LargeBinary, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

RELOAD_SECONDS = 5.0


class KeyError_(Exception):
    """A key is missing or unusable: the message names the setting to fix."""


class KeyRing:
    """The data keys (newest first) and the blind-index key."""

    def __init__(self, data_keys: list[str], index_key: str, *, path: Path | None = None) -> None:
        if not data_keys:
            raise KeyError_("KEYWORKER_ENCRYPTION_KEYS: no encryption key is set")
        try:
            self._fernets = [Fernet(key.strip().encode()) for key in data_keys]
        except ValueError:
            raise KeyError_("KEYWORKER_ENCRYPTION_KEYS: a key is not a valid Fernet key (32 url-safe base64 bytes)") from None
        if len(index_key.strip()) < 32:
            raise KeyError_("KEYWORKER_INDEX_KEY: must be at least 32 characters")
        self.keys = [key.strip() for key in data_keys]
        self.multi = MultiFernet(self._fernets)
        self.primary = self._fernets[0]
        self._index_key = index_key.strip().encode()
        self._path = path
        self._mtime = path.stat().st_mtime if path else 0.0
        self._checked = time.monotonic()

    @classmethod
    def from_file(cls, path: Path) -> KeyRing:
        """Read 'data:<key>' lines (newest first) and one 'index:<key>' line."""
        data, index = read_key_file(path)
        return cls(data, index, path=path)

    def encrypt(self, plain: bytes) -> bytes:
        return self.multi.encrypt(plain)

    def decrypt(self, token: bytes) -> bytes:
        return self.multi.decrypt(token)

    def is_current(self, token: bytes) -> bool:
        """Say whether a token is already encrypted with the newest key."""
        try:
            self.primary.decrypt(token)
            return True
        except InvalidToken:
            return False

    def blind_index(self, text: str) -> str:
        """Return keyed hashes of a name's normalised parts, for finding people without decrypting."""
        return " ".join(sorted({self.term(part) for part in normalise(text).split()}))

    def lookup_key(self, value: str) -> str:
        """Return a keyed hash of an exact value, so an encrypted column can still be found by equality."""
        return hmac.new(self._index_key, value.encode(), hashlib.sha256).hexdigest()

    def term(self, part: str) -> str:
        return hmac.new(self._index_key, normalise(part).encode(), hashlib.sha256).hexdigest()[:16]

    def reloaded(self) -> KeyRing:
        """Return a fresh ring if the key file changed since it was read (checked every few seconds)."""
        if self._path is None or time.monotonic() - self._checked < RELOAD_SECONDS:
            return self
        self._checked = time.monotonic()
        try:
            mtime = self._path.stat().st_mtime
        except OSError:
            return self
        return KeyRing.from_file(self._path) if mtime != self._mtime else self


def normalise(text: str) -> str:
    """Fold case, accents and punctuation so 'Zoë O'Neil' finds 'zoe oneil'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(c if c.isalnum() or c.isspace() else "" for c in letters)


def new_data_key() -> str:
    return Fernet.generate_key().decode()


def new_index_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def read_key_file(path: Path) -> tuple[list[str], str]:
    data, index = [], ""
    for line in path.read_text().splitlines():
        kind, _, value = line.strip().partition(":")
        if kind == "data" and value:
            data.append(value)
        elif kind == "index" and value:
            index = value
    if not index:
        raise KeyError_(f"KEYWORKER_ENCRYPTION_KEY_FILE: {path} has no 'index:' line")
    return data, index


def write_key_file(path: Path, data_keys: list[str], index_key: str) -> None:
    """Write the key file atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text("".join(f"data:{key}\n" for key in data_keys) + f"index:{index_key}\n")
    temporary.chmod(0o600)
    temporary.replace(path)


_ring: KeyRing | None = None
_lock = threading.Lock()


def configure(ring: KeyRing) -> None:
    """Install the keys every encrypted column uses in this process."""
    global _ring
    with _lock:
        _ring = ring


def ring() -> KeyRing:
    """Return the installed keys, re-reading the key file if it changed."""
    global _ring
    if _ring is None:
        raise KeyError_("encryption keys are not configured: call models.crypto.configure() at start-up")
    fresh = _ring.reloaded()
    if fresh is not _ring:
        with _lock:
            _ring = fresh
    return fresh


class EncryptedText(TypeDecorator[str]):
    """Text stored as a Fernet token: the database only ever sees ciphertext."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else ring().encrypt(value.encode()).decode()

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else ring().decrypt(value.encode()).decode()


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON value stored as a Fernet token."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return ring().encrypt(json.dumps(value, separators=(",", ":")).encode()).decode()

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(ring().decrypt(value.encode()))


class EncryptedBytes(TypeDecorator[bytes]):
    """Bytes (photos, voice notes) stored as a Fernet token."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        return None if value is None else ring().encrypt(bytes(value))

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        return None if value is None else ring().decrypt(bytes(value))
