"""Photos, voice notes and files: fetched once from their channel and kept with the message."""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError

from bot.runtime import Runtime
from bot.services.message import do_store_media
from models import MediaBlob, Message

log = logging.getLogger(__name__)


async def fetch_media(rt: Runtime, message_id: int) -> MediaBlob | None:
    """Return the stored bytes of a message's media, downloading them first if needed."""
    async with rt.db() as session:
        blob = await session.get(MediaBlob, message_id)
        if blob is not None:
            return blob
        message = await session.get(Message, message_id)
        if message is None or not message.meta.get("file_id") or message.channel is None:
            return None
        channel = rt.channels.get(message.channel)
        if channel is None:
            log.warning("media of message %s: channel %s is not running", message_id, message.channel)
            return None
        data = await channel.fetch_media(message.meta["file_id"])
        if (existing := await session.get(MediaBlob, message_id)) is not None:
            return existing
        try:
            blob = await do_store_media(
                session, rt.now(), message, data, message.meta.get("mime_type") or "application/octet-stream"
            )
            await session.commit()
        except IntegrityError:
            # Fetched at the same moment elsewhere (the live page asks as the photo arrives): use theirs.
            await session.rollback()
            return await session.get(MediaBlob, message_id)
        return blob
