"""Built-in web chat: a private link, no third-party account; delivery is a live page update."""

from __future__ import annotations

from bot.channels.base import Outgoing, SendFailed
from bot.events import Event, EventBus
from models import ChannelKind


class WebChatChannel:
    """Delivers to the young person's web-chat page; the message is already stored for it."""

    kind = ChannelKind.WEBCHAT

    def __init__(self, events: EventBus) -> None:
        self._events = events

    async def send(self, address: str, outgoing: Outgoing) -> str | None:
        yp = outgoing.young_person_id
        self._events.publish(
            Event("webchat", yp, frozenset({f"yp:{yp}"}), {"message_id": outgoing.message_id})
        )
        return None

    async def send_direct(self, address: str, text: str) -> None:
        """Nothing to do: an unknown web-chat link is answered by the page itself."""

    async def fetch_media(self, file_id: str) -> bytes:
        raise SendFailed("web chat media is stored on upload, not fetched")
