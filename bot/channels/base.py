"""What every channel offers the outbox, and the errors it may raise."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Button:
    label: str
    data: str


@dataclass(frozen=True)
class Attachment:
    """A small file sent with a message, such as a calendar file."""

    file_name: str
    mime_type: str
    data: bytes


@dataclass(frozen=True)
class Outgoing:
    """One message to deliver: already worded, with who it is from and any buttons."""

    message_id: int
    young_person_id: int
    text: str
    sender_label: str | None = None
    buttons: tuple[tuple[Button, ...], ...] = field(default_factory=tuple)
    keyboard: tuple[tuple[str, ...], ...] = field(default_factory=tuple)  # persistent reply keyboard
    silent: bool = False
    attachment: Attachment | None = None


class ChannelUnreachable(Exception):
    """The young person cannot be reached here (for example they blocked the bot)."""


class RetryLater(Exception):
    """The channel asked us to wait before trying again."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds} s")
        self.seconds = seconds


class SendFailed(Exception):
    """A failure that may pass: network trouble, a server error."""


class Channel(Protocol):
    kind: str

    async def send(self, address: str, outgoing: Outgoing) -> str | None:
        """Deliver a message and return the channel's id for it, if any."""
        ...

    async def send_direct(self, address: str, text: str) -> None:
        """Answer someone who is not linked to anyone; nothing about them is stored."""
        ...

    async def fetch_media(self, file_id: str) -> bytes:
        """Download the bytes of a photo, voice note or file."""
        ...
