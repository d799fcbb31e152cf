"""Telegram channel: turns Bot API updates into inbound events and delivers messages."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import sys
import traceback
import warnings
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aiolimiter import AsyncLimiter
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData
from telegram.request._requestparameter import RequestParameter  # what Bot._do_post builds RequestData from
from telegram.warnings import PTBDeprecationWarning, PTBUserWarning

from bot.channels.base import ChannelUnreachable, Outgoing, RetryLater, SendFailed
from bot.channels.ratelimit import LatencyLimit, WindowLimiter
from bot.channels.transport import AiohttpRequest
from bot.content import Content
from handlers.turn import InboundEvent
from models import ChannelKind, ContentKind

if TYPE_CHECKING:
    from bot.inbound import Batcher
    from bot.intake import IntakeGuard

log = logging.getLogger(__name__)

# httpcore asks which async library runs four to twelve times a request by trying `import sniffio`, and
# since anyio 4 stopped bringing sniffio each try searches sys.path again (a third of a send's CPU in a
# micro-benchmark: 1.6 ms a request against 1.1 ms). Where it is not installed, it is marked missing
# once, so the answer (asyncio) comes at once; where it is installed, nothing changes.
if importlib.util.find_spec("sniffio") is None:
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

MAX_TEXT = 4096
PER_CHAT_BURST = 4
MAX_CAPTION = 1024
# Telegram's guidance: about one message a second to one chat, and thirty a second in all.
PER_CHAT_RATE = 1.0
GLOBAL_RATE = 30
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
# The command menu, in this order; each description is content key commands.<name>.
COMMANDS = ("start", "checkin", "wellbeing", "settings", "help", "cancel")
Receive = Callable[[InboundEvent], Awaitable[None]]


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Split a long text into parts Telegram accepts, at line or word breaks where possible."""
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut < limit // 2:
            cut = text.rfind(" ", 0, limit)
        if cut < limit // 2:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text or not parts:
        parts.append(text)
    return parts


def _retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def to_event(update: Update) -> InboundEvent | None:
    """Turn a Telegram update into a plain inbound event; None for updates we do not act on."""
    receipt = ("telegram", update.update_id)
    if update.callback_query is not None:
        query = update.callback_query
        chat = query.message.chat if query.message else None
        if chat is None:
            return None
        label = next(
            (
                button.text
                for row in getattr(query.message.reply_markup, "inline_keyboard", None) or ()
                for button in row
                if button.callback_data == query.data
            ),
            None,
        )
        return InboundEvent(
            channel=ChannelKind.TELEGRAM,
            address=str(chat.id),
            content_kind=ContentKind.BUTTON,
            payload=query.data or "",
            receipt=receipt,
            meta={"callback_query_id": query.id, "message_id": query.message.message_id, "label": label},
        )
    edited = update.edited_message
    if edited is not None:
        return _edited_event(edited, receipt) if edited.chat.type == "private" else None
    message = update.message
    if message is None or message.chat.type != "private":
        return None
    return _message_event(message, receipt)


def plain_text_event(item: object) -> InboundEvent | None:
    """Read a text in a private chat straight from the update as Telegram sent it; None for anything else.

    Nearly every update is a young person's text, and building python-telegram-bot's objects for one (Update,
    Message, User, Chat, each attribute set through a frozen-object check) cost about a tenth of the service's
    CPU under load (bench/inbound.py). The event is the one to_event makes; every other update, and any not
    shaped exactly as Telegram sends a text, goes through python-telegram-bot and to_event as before.
    """
    if not isinstance(item, dict) or len(item) != 2:  # update_id and message, nothing else
        return None
    update_id, message = item.get("update_id"), item.get("message")
    if type(update_id) is not int or not isinstance(message, dict):
        return None
    chat, text, message_id = message.get("chat"), message.get("text"), message.get("message_id")
    if not isinstance(chat, dict) or chat.get("type") != "private" or type(chat.get("id")) is not int:
        return None
    if not isinstance(text, str) or type(message_id) is not int or type(message.get("date")) is not int:
        return None
    return _text_event(str(chat["id"]), text, ("telegram", update_id), str(message_id))


def _text_event(address: str, text: str, receipt: tuple[str, int], external_id: str) -> InboundEvent:
    base: dict[str, Any] = {"channel": ChannelKind.TELEGRAM, "address": address, "receipt": receipt, "external_id": external_id}
    if text.startswith("/"):
        command, _, args = text[1:].partition(" ")
        command = command.split("@", 1)[0].lower()
        return InboundEvent(**base, content_kind=ContentKind.TEXT, text=text, command=command, args=args.strip())
    return InboundEvent(**base, content_kind=ContentKind.TEXT, text=text)


def _edited_event(message: Message, receipt: tuple[str, int]) -> InboundEvent | None:
    """Turn an edited text or caption into a new text marked as an edit of the original (by its id).

    Safeguarding applies to every text a young person sends, changed ones too. Edits without words
    (a live location moving on the map) are not acted on.
    """
    words = message.text if message.text is not None else message.caption
    if not words:
        return None
    return InboundEvent(
        channel=ChannelKind.TELEGRAM,
        address=str(message.chat.id),
        receipt=receipt,
        external_id=str(message.message_id),
        content_kind=ContentKind.TEXT,
        text=words,
        meta={"edited": True, "edit_of": str(message.message_id)},
    )


def _message_event(message: Message, receipt: tuple[str, int]) -> InboundEvent:
    base: dict[str, Any] = {
        "channel": ChannelKind.TELEGRAM,
        "address": str(message.chat.id),
        "receipt": receipt,
        "external_id": str(message.message_id),
    }
    text = message.text
    if text is not None:
        return _text_event(base["address"], text, receipt, base["external_id"])
    caption = message.caption
    media: tuple[ContentKind, Any, str] | None = None
    if message.photo:
        media = (ContentKind.PHOTO, message.photo[-1], "image/jpeg")
    elif message.voice:
        media = (ContentKind.VOICE, message.voice, message.voice.mime_type or "audio/ogg")
    elif message.video_note:
        media = (ContentKind.VIDEO_NOTE, message.video_note, "video/mp4")
    elif message.video:
        media = (ContentKind.VIDEO, message.video, message.video.mime_type or "video/mp4")
    elif message.audio:
        media = (ContentKind.AUDIO, message.audio, message.audio.mime_type or "audio/mpeg")
    elif message.document:
        document = message.document
        media = (ContentKind.DOCUMENT, document, document.mime_type or "application/octet-stream")
    if media is not None:
        kind, item, mime = media
        meta = {"file_id": item.file_id, "mime_type": mime, "size": item.file_size}
        if kind == ContentKind.DOCUMENT:
            meta["file_name"] = message.document.file_name
        with warnings.catch_warnings():  # PTB warns that duration will become a timedelta
            warnings.simplefilter("ignore", PTBDeprecationWarning)
            duration = getattr(item, "duration", None)
        if duration is not None:
            meta["duration"] = int(duration.total_seconds() if isinstance(duration, timedelta) else duration)
        return InboundEvent(**base, content_kind=kind, text=caption, meta=meta)
    if message.sticker:
        return InboundEvent(**base, content_kind=ContentKind.STICKER, meta={"emoji": message.sticker.emoji})
    if message.location:
        location = message.location
        return InboundEvent(
            **base,
            content_kind=ContentKind.LOCATION,
            meta={"latitude": location.latitude, "longitude": location.longitude},
        )
    # Contacts, polls, dice and whatever Telegram adds next still reach the worker.
    return InboundEvent(**base, content_kind=ContentKind.TEXT, text=None, meta={"unsupported": True})


class TelegramChannel:
    """Long polling or webhook intake, and rate-limited delivery, through python-telegram-bot."""

    kind = ChannelKind.TELEGRAM
    # Set by the app (bot/intake.py): keeps aside an update that keeps failing, and reports getUpdates trouble.
    guard: IntakeGuard | None = None
    # Set by the app (bot/inbound.py): handles updates that arrive together in one transaction.
    batcher: Batcher | None = None

    def __init__(
        self,
        token: str,
        api_url: str,
        content: Content,
        *,
        poll_timeout: int = 25,
        send_timeout: float = 15,
        global_rate: int | None = None,
        per_chat_rate: float | None = None,
        request: BaseRequest | None = None,
    ) -> None:
        self.bot = Bot(
            token,
            base_url=f"{api_url}/bot",
            base_file_url=f"{api_url}/file/bot",
            # Sends over aiohttp (less CPU a call than httpx's pool, bot/channels/transport.py); the one
            # long poll at a time stays on python-telegram-bot's default.
            request=request or AiohttpRequest(connection_pool_size=64, read_timeout=send_timeout, write_timeout=send_timeout),
            get_updates_request=HTTPXRequest(read_timeout=poll_timeout + 10),
        )
        self._content = content
        self._poll_timeout = poll_timeout
        # Not a leaky bucket: its bursts, shifted by network jitter, overstep a per-second window (bench/fanout.py).
        self._global = WindowLimiter(global_rate or GLOBAL_RATE)
        # How many sends at once: as few as keep up (each in flight costs CPU), as many as the
        # latency needs, and never fewer than keep Telegram's 30 a second going at the latency seen.
        self.sends = LatencyLimit(floor_rate=min(global_rate or GLOBAL_RATE, GLOBAL_RATE))
        self._per_chat_rate = per_chat_rate or PER_CHAT_RATE
        self._per_chat: OrderedDict[str, AsyncLimiter] = OrderedDict()
        self._poller: asyncio.Task[None] | None = None
        self.username: str | None = None

    async def start(self) -> None:
        """Connect to the Bot API and learn the bot's username."""
        await self.bot.initialize()
        self.username = self.bot.username
        await self.set_commands()

    async def set_commands(self) -> None:
        """Fill the bot's command menu, worded from content/<language>/commands.toml."""
        for language in self._content.languages:
            if not {f"commands.{name}" for name in COMMANDS} <= self._content.keys(language):
                continue
            commands = [BotCommand(name, self._content.text(f"commands.{name}", language)) for name in COMMANDS]
            try:
                await self.bot.set_my_commands(commands, language_code=None if language == "en" else language)
            except TelegramError as exc:  # the menu is a convenience: never a reason not to start
                log.warning("setMyCommands for %s failed: %s", language, exc.message)

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        await self.bot.shutdown()

    async def set_webhook(self, url: str, secret: str) -> None:
        await self.bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)

    def start_polling(self, receive: Receive, backoff: Callable[[int], Awaitable[None]] | None = None) -> None:
        """Poll for updates in the background until stopped."""
        self._poller = asyncio.create_task(self._poll(receive, backoff or _backoff), name="telegram-poller")

    async def _poll(self, receive: Receive, backoff: Callable[[int], Awaitable[None]]) -> None:
        offset, failures, webhook_cleared = 0, 0, False
        while True:
            try:
                if not webhook_cleared:
                    await self.bot.delete_webhook()
                    webhook_cleared = True
                with warnings.catch_warnings():
                    # Raw on purpose (see _parse): silence the "use get_updates instead" hint.
                    warnings.simplefilter("ignore", PTBUserWarning)
                    raw = await self.bot.do_api_request(
                        "getUpdates",
                        api_kwargs={"offset": offset, "timeout": self._poll_timeout, "allowed_updates": ALLOWED_UPDATES},
                        read_timeout=self._poll_timeout + 10,
                    )
                events, newest = self._parse(raw)
            except RetryAfter as exc:
                await asyncio.sleep(_retry_seconds(exc))
                continue
            except TelegramError as exc:
                # Network trouble, a 5xx, or 409 while another poller or a webhook holds the token.
                failures += 1
                log.warning("getUpdates failed (%s); retry %s", type(exc).__name__, failures)
                if self.guard is not None:
                    self.guard.fetch_failed(type(exc).__name__)
                await backoff(failures)
                continue
            if self.guard is not None:
                self.guard.fetch_worked()
            if events:
                handle, guard = receive, self.guard
                if guard is not None:
                    # One update that keeps failing (not for want of the database) is kept aside after a
                    # few tries, so the offset can move on past it and nobody else waits behind it.
                    as_sent = {item["update_id"]: item for item in raw if isinstance(item, dict) and "update_id" in item}
                    handle = lambda event: guard.receive(  # noqa: E731
                        event, as_sent.get(event.receipt[1]) if event.receipt else None, receive
                    )
                try:
                    await self.process(events, handle)
                except Exception as exc:
                    # Not confirmed: the same updates come back with the same offset, so nothing is lost.
                    failures += 1
                    log.error(
                        "Telegram updates %s-%s not confirmed (%s); retry %s",
                        _update_id(events[0]), _update_id(events[-1]), type(exc).__name__, failures,
                    )
                    await backoff(failures)
                    continue
            if newest is not None:
                # Confirm only now: everything up to here is committed, so a crash loses nothing.
                offset = newest + 1
            failures = 0

    def _parse(self, raw: object) -> tuple[list[InboundEvent], int | None]:
        """Read each update on its own into the event to act on: one Telegram cannot read must not hold up
        everyone else's, and updates we do not act on are left out."""
        events: list[InboundEvent] = []
        newest: int | None = None
        for item in raw if isinstance(raw, list) else []:
            update_id = item.get("update_id") if isinstance(item, dict) else None
            if isinstance(update_id, int):
                newest = max(newest or update_id, update_id)
            event = plain_text_event(item)
            if event is None:
                try:
                    update = Update.de_json(item, self.bot)
                except Exception as exc:  # any malformed shape: logged by id only, never its content
                    log.error("Telegram update %s could not be read (%s); skipped", update_id, type(exc).__name__)
                    continue
                event = to_event(update) if update is not None else None
            if event is not None:
                events.append(event)
        return events, newest

    async def process(self, events: list[InboundEvent], receive: Receive) -> None:
        """Handle a batch of events: in one transaction through the batcher if there is one, else chats in
        parallel; either way each chat's updates in order, and raise if any was not stored."""
        if self.batcher is not None:
            if not events:
                return
            futures = self.batcher.submit_all([(event, receive) for event in events])
            await asyncio.wait(futures)
            first: BaseException | None = None
            for event, future in zip(events, futures, strict=True):
                if future.exception() is not None:
                    _log_unhandled(event, future.exception())  # type: ignore[arg-type]
                    first = first or future.exception()
                elif event.meta.get("callback_query_id"):
                    await self.answer_button(event.meta["callback_query_id"])
            if first is not None:
                raise first  # the offset must not move past an update that was not stored
            return
        by_chat: dict[str, list[InboundEvent]] = defaultdict(list)
        for event in events:
            by_chat[event.address].append(event)

        async def run(events: list[InboundEvent]) -> None:
            for event in events:
                try:
                    await receive(event)
                except Exception as exc:
                    _log_unhandled(event, exc)
                    raise
                if event.meta.get("callback_query_id"):
                    await self.answer_button(event.meta["callback_query_id"])

        results = await asyncio.gather(*(run(events) for events in by_chat.values()), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                # Re-raised: the offset must not move past an update that was not stored.
                raise result

    async def answer_button(self, callback_query_id: str) -> None:
        try:
            await self.bot.answer_callback_query(callback_query_id)
        except TelegramError as exc:  # too old, or Telegram unreachable: harmless, the press was stored
            log.info("answerCallbackQuery %s: %s", callback_query_id, exc.message)

    def _chat_limiter(self, address: str) -> AsyncLimiter:
        limiter = self._per_chat.get(address)
        if limiter is None:
            # Telegram asks for about one message a second per chat on average; a burst of four lets
            # a crisis reply (reply, safety plan, helplines) arrive together, then the average holds.
            limiter = self._per_chat[address] = AsyncLimiter(self._per_chat_rate * PER_CHAT_BURST, PER_CHAT_BURST)
            if len(self._per_chat) > 50_000:
                self._per_chat.popitem(last=False)
        self._per_chat.move_to_end(address)
        return limiter

    async def send(self, address: str, outgoing: Outgoing) -> str | None:
        """Send a message, split into parts if it is too long, with buttons on the last part."""
        text = outgoing.text
        if outgoing.sender_label:
            text = self._content.text("message.from_staff", name=outgoing.sender_label, text=text)
        markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | None = None
        if outgoing.buttons:
            markup = InlineKeyboardMarkup(
                [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in outgoing.buttons]
            )
        elif outgoing.keyboard:
            markup = ReplyKeyboardMarkup(
                [list(row) for row in outgoing.keyboard], resize_keyboard=True, is_persistent=True
            )
        file = outgoing.attachment
        if file is not None and len(text) <= MAX_CAPTION:
            # A file with a few words: the words go as its caption, one message rather than two.
            sent = await self._call(
                address,
                self.bot.send_document,
                chat_id=int(address),
                document=file.data,
                filename=file.file_name,
                caption=text or None,
                reply_markup=markup,
                disable_notification=outgoing.silent,
            )
            return str(sent.message_id)
        parts = split_text(text)
        first_id: str | None = None
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            sent_id = await self._call(
                address,
                self._send_text,
                chat_id=int(address),
                text=part,
                reply_markup=markup if last else None,
                disable_notification=outgoing.silent,
            )
            first_id = first_id or str(sent_id)
        if file is not None:
            await self._call(
                address,
                self.bot.send_document,
                chat_id=int(address),
                document=file.data,
                filename=file.file_name,
                disable_notification=outgoing.silent,
            )
        return first_id

    async def send_direct(self, address: str, text: str) -> None:
        await self._call(address, self._send_text, chat_id=int(address), text=text)

    async def _send_text(
        self,
        *,
        chat_id: int,
        text: str,
        reply_markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | None = None,
        disable_notification: bool | None = None,
    ) -> int:
        """Call sendMessage with what Bot.send_message would send; return the new message's id.

        Bot.send_message builds a whole Message from the answer (its chat and sender too, each attribute
        set through a frozen-object check): 6 % of the service's CPU under load (bench/inbound.py), for an
        id. The call goes through the same python-telegram-bot request, which raises the same errors.
        """
        data: dict[str, Any] = {"chat_id": chat_id, "text": text}
        if disable_notification is not None:
            data["disable_notification"] = disable_notification
        if reply_markup is not None:
            data["reply_markup"] = reply_markup
        result = await self.bot.request.post(
            f"{self.bot.base_url}/sendMessage",
            RequestData([RequestParameter.from_input(key, value) for key, value in data.items()]),
        )
        return int(result["message_id"])  # type: ignore[call-overload, index]

    async def fetch_media(self, file_id: str) -> bytes:
        try:
            file = await self.bot.get_file(file_id)
            return bytes(await file.download_as_bytearray())
        except RetryAfter as exc:
            raise RetryLater(_retry_seconds(exc)) from exc
        except TelegramError as exc:
            raise SendFailed(f"getFile failed: {type(exc).__name__}") from exc

    async def _call(self, address: str, method: Callable[..., Awaitable[Any]], **kwargs: Any) -> Any:
        async with self._chat_limiter(address):
            # A place among the sends at once, then a place in the second's 30: only the call itself is timed.
            await self.sends.acquire()
            took: float | None = None
            try:
                async with self._global:
                    started = self.sends.clock()
                    try:
                        return await method(**kwargs)
                    except RetryAfter as exc:
                        raise RetryLater(_retry_seconds(exc)) from exc
                    except Forbidden as exc:
                        raise ChannelUnreachable(f"Telegram: {exc.message}") from exc
                    except BadRequest as exc:
                        if "chat not found" in exc.message.lower():
                            raise ChannelUnreachable(f"Telegram: {exc.message}") from exc
                        raise
                    except (NetworkError, TimedOut) as exc:
                        raise SendFailed(f"Telegram: {type(exc).__name__}: {exc.message}") from exc
                    finally:
                        took = self.sends.clock() - started
            finally:
                self.sends.release(took)


def _update_id(event: InboundEvent) -> int | str:
    return event.receipt[1] if event.receipt else "?"


def _log_unhandled(event: InboundEvent, exc: BaseException) -> None:
    # Ids and the place it failed only: an error's text may quote the young person.
    frames = traceback.extract_tb(exc.__traceback__)
    place = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    log.error("Telegram update %s not handled: %s%s", event.receipt[1] if event.receipt else "?", type(exc).__name__, place)


async def _backoff(failures: int) -> None:
    await asyncio.sleep(min(2**failures, 60))
