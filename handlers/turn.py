"""One inbound event from any channel, and the turn in which a handler answers it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from models import ChannelLink, ContentKind, ConversationState, Message, MissingEpisode, StaffMember, YoungPerson

Buttons = list[list[dict[str, str]]]  # rows of {"label": ..., "data": ...}

if TYPE_CHECKING:
    from bot.runtime import Runtime
    from bot.services.risk import RiskAssessment


@dataclass(frozen=True)
class InboundEvent:
    """What arrived, in plain terms: no channel library types beyond this line."""

    channel: str
    address: str
    content_kind: ContentKind
    text: str | None = None  # the text, or a media caption
    command: str | None = None  # "start" for "/start abc"
    args: str = ""  # "abc" for "/start abc"
    payload: str | None = None  # button data
    meta: dict[str, Any] = field(default_factory=dict)
    receipt: tuple[str, int] | None = None  # ("telegram", update_id), to handle it once
    external_id: str | None = None


@dataclass
class Turn:
    """Everything a handler needs to answer one event; replies are queued, sent after commit."""

    rt: Runtime
    session: AsyncSession
    event: InboundEvent
    now: datetime
    link: ChannelLink | None = None
    young_person: YoungPerson | None = None
    key_worker: StaffMember | None = None
    message: Message | None = None
    risk: RiskAssessment | None = None
    awaiting: ConversationState | None = None  # the step of a multi-step flow the bot is waiting on
    queued: list[Message] = field(default_factory=list)
    direct: list[str] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # Rows loaded with the young person (their wellbeing plan, say), held so the session's identity map,
    # which holds them weakly, still has them when a handler asks: no second trip to the database.
    loaded: tuple[object, ...] = ()
    # Their conversation's last message either way before this one (an automatic answer since a
    # moment is only worth looking for if there was any message since), and their open missing
    # episode, when loaded with them (episode_known): handlers/message.py and missing.py skip a look-up.
    previous_message_at: datetime | None = None
    episode_known: bool = False
    episode: MissingEpisode | None = None

    @property
    def language(self) -> str:
        return self.young_person.language if self.young_person else "en"

    def text(self, key: str, **values: Any) -> str:
        """Word a reply in the young person's language."""
        return self.rt.content.text(key, self.language, **values)

    async def say(
        self,
        key: str,
        *,
        purpose: str | None = None,
        buttons: Buttons | None = None,
        keyboard: list[list[str]] | None = None,
        **values: Any,
    ) -> Message | None:
        """Reply with a content text: stored and delivered if linked, sent plainly if not.

        buttons are inline choices under the message; keyboard is a persistent reply keyboard.
        """
        from bot.services.message import do_queue_outbound

        text = self.text(key, **values)
        if self.young_person is None:
            self.direct.append(text)
            return None
        message = await do_queue_outbound(
            self.session,
            self.now,
            self.young_person,
            body=text,
            purpose=purpose or key,
            link=self.link,
            meta={**({"buttons": buttons} if buttons else {}), **({"keyboard": keyboard} if keyboard else {})},
            flush=False,  # inserted with the rest of the turn (or batch); delivered after commit
        )
        self.queued.append(message)
        return message

    async def message_id(self) -> int | None:
        """The stored id of what they sent (None if nothing was stored), inserting it now if need be."""
        if self.message is None:
            return None
        if self.message.id is None:
            await self.session.flush()
        return self.message.id

    async def expect(self, flow: str, step: str, **data: Any) -> None:
        """Remember which step of which flow the next free-text answer belongs to."""
        assert self.young_person is not None
        if self.awaiting is None:
            self.awaiting = ConversationState(young_person_id=self.young_person.id, flow=flow, step=step)
            self.session.add(self.awaiting)
        self.awaiting.flow, self.awaiting.step = flow, step
        self.awaiting.data = dict(data)
        self.awaiting.updated_at = self.now
        await self.session.flush()

    async def finish(self) -> None:
        """Forget any flow in progress."""
        if self.awaiting is not None:
            await self.session.delete(self.awaiting)
            await self.session.flush()
            self.awaiting = None
