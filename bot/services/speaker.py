"""What a handler's Turn and a job's JobContext both offer, so one feature's code serves both."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.runtime import Runtime
from models import Message, StaffMember, YoungPerson

Buttons = list[list[dict[str, str]]]


class Speaker(Protocol):
    """A session, a time, a young person and their worker, and a voice."""

    rt: Runtime
    session: AsyncSession
    now: datetime
    young_person: YoungPerson | None
    key_worker: StaffMember | None

    def text(self, key: str, **values: Any) -> str: ...

    async def say(
        self, key: str, *, purpose: str | None = None, buttons: Buttons | None = None, **values: Any
    ) -> Message | None: ...


def worker_name(speaker: Speaker) -> str:
    return speaker.key_worker.display_name if speaker.key_worker else ""
