"""Fake Telegram Bot API served over real HTTP, for tests.

Point the real client at it with
``telegram.Bot(fake.token, base_url=f"{fake.url}/bot", base_file_url=f"{fake.url}/file/bot")``.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections import defaultdict
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ._http import ApiError, ThreadedServer, ok, read_params
from ._state import SEND_METHODS, BotApiState, Queued, chat_key

__all__ = ["FakeBotAPI"]


class FakeBotAPI(BotApiState):
    """Fake Bot API on 127.0.0.1; every public method is thread-safe."""

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        username: str = "KeyworkerTestBot",
        *,
        enforce_limits: bool = False,
        global_per_second: int = 30,
        per_chat_per_second: int = 1,
    ):
        super().__init__(token, username, enforce_limits, global_per_second, per_chat_per_second)
        app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._api_endpoint, methods=["GET", "POST"]),
                Route("/file/bot{token}/{file_path:path}", self._file_endpoint, methods=["GET"]),
                Route("/{path:path}", self._not_found, methods=["GET", "POST"]),
            ]
        )
        self._server = ThreadedServer(app, self._on_loop_start)
        # Telegram matches method names case-insensitively.
        self._method_names = {name.lower(): name for name in [*self.methods, "getUpdates"]}

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Return the root URL, e.g. http://127.0.0.1:PORT."""
        return f"http://127.0.0.1:{self._server.port}"

    def start(self) -> FakeBotAPI:
        """Start serving and return once the server accepts requests."""
        with self._lock:
            self._closing = False
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving, ending pending long polls; bounded by a few seconds."""
        with self._lock:
            self._closing = True
        self._signal_updates()
        self._server.stop()
        self._loop = None

    def __enter__(self) -> FakeBotAPI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def _on_loop_start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._updates_event = asyncio.Event()
        self._loop = loop

    # -- feeding updates -------------------------------------------------------------------

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue exactly this update (an update_id is assigned only if missing)."""
        update = copy.deepcopy(update)
        with self._lock:
            if "update_id" not in update:
                update["update_id"] = self._next_update_id
            uid = update["update_id"]
            self._next_update_id = max(self._next_update_id, uid + 1)
            # An update re-pushed below the confirmed offset simulates Telegram redelivering it,
            # so it must be delivered once rather than forgotten straight away.
            self._queue.append(Queued(update, redelivery=uid < self._confirmed_offset))
            if "callback_query" in update:
                self._callback_ids.add(str(update["callback_query"]["id"]))
        self._signal_updates()
        return copy.deepcopy(update)

    def push_text(self, chat_id: int, text: str, *, first_name: str = "Sam",
                  username: str | None = None) -> dict[str, Any]:
        """Queue a text message from a young person (their profile is kept for later pushes)."""
        with self._lock:
            self._profiles[chat_key(chat_id)] = {"first_name": first_name, "username": username}
        return self._push_message(chat_id, text=text)

    def push_command(self, chat_id: int, command: str, args: str = "") -> dict[str, Any]:
        """Queue a command such as "/start abc" with its bot_command entity."""
        command = "/" + command.lstrip("/")
        text = f"{command} {args}" if args else command
        entity = {"type": "bot_command", "offset": 0, "length": len(command)}
        return self._push_message(chat_id, text=text, entities=[entity])

    def push_photo(self, chat_id: int, data: bytes, caption: str | None = None) -> dict[str, Any]:
        """Queue a photo, as the list of sizes Telegram sends."""
        # Nothing is resized: every size downloads the given bytes.
        sizes = []
        for width, height in ((90, 68), (320, 240), (800, 600)):
            info = self._register(data, "image/jpeg")
            sizes.append({**self._public(info), "width": width, "height": height})
        return self._push_message(chat_id, photo=sizes, caption=caption)

    def push_voice(self, chat_id: int, data: bytes, duration: int = 3,
                   mime_type: str = "audio/ogg") -> dict[str, Any]:
        """Queue a voice note."""
        info = self._register(data, mime_type)
        voice = {**self._public(info), "duration": duration, "mime_type": mime_type}
        return self._push_message(chat_id, voice=voice)

    def push_video_note(self, chat_id: int, data: bytes, duration: int = 2) -> dict[str, Any]:
        """Queue a round video note."""
        info = self._register(data, "video/mp4")
        return self._push_message(chat_id, video_note={**self._public(info), "length": 240,
                                                       "duration": duration})

    def push_document(self, chat_id: int, data: bytes, file_name: str = "document.pdf",
                      mime_type: str = "application/pdf") -> dict[str, Any]:
        """Queue a document."""
        info = self._register(data, mime_type, file_name)
        document = {**self._public(info), "file_name": file_name, "mime_type": mime_type}
        return self._push_message(chat_id, document=document)

    def push_sticker(self, chat_id: int, emoji: str = "👍") -> dict[str, Any]:
        """Queue a sticker."""
        info = self._register(b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp")
        sticker = {**self._public(info), "type": "regular", "width": 512, "height": 512,
                   "is_animated": False, "is_video": False, "emoji": emoji}
        return self._push_message(chat_id, sticker=sticker)

    def push_location(self, chat_id: int, latitude: float, longitude: float) -> dict[str, Any]:
        """Queue a shared location."""
        return self._push_message(chat_id, location={"latitude": latitude, "longitude": longitude})

    def push_callback(self, chat_id: int, data: str, message_id: int) -> dict[str, Any]:
        """Queue a button tap on the bot's message message_id."""
        key = chat_key(chat_id)
        with self._lock:
            message = self._messages.get((key, message_id))
            if message is None:
                message = {"message_id": message_id, "from": self._bot_user(), "chat": self._chat(key),
                           "date": int(time.time()), "text": ""}
            query = {
                "id": f"{self.bot_id}{next(self._callback_counter):08d}",
                "from": self._user(key),
                "message": copy.deepcopy(message),
                "chat_instance": f"ci-{key}",
                "data": data,
            }
        return self.push_update({"callback_query": query})

    def add_file(self, data: bytes, mime_type: str = "application/octet-stream", *,
                 file_name: str | None = None) -> str:
        """Register downloadable bytes and return their file_id."""
        return self._register(data, mime_type, file_name)["file_id"]

    def _push_message(self, chat_id: int, **content: Any) -> dict[str, Any]:
        key = chat_key(chat_id)
        with self._lock:
            message = {"message_id": next(self._message_ids[key]), "from": self._user(key),
                       "chat": self._chat(key), "date": int(time.time()),
                       **{k: v for k, v in content.items() if v is not None}}
            self._messages[(key, message["message_id"])] = message
            update = {"message": copy.deepcopy(message)}
        return self.push_update(update)

    def _signal_updates(self) -> None:
        loop = self._loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self._wake_pollers)
            except RuntimeError:  # loop already closed by stop()
                pass

    def _wake_pollers(self) -> None:
        # Swapping events means each waiter wakes once per change and then re-checks the queue.
        assert self._updates_event is not None
        self._updates_event.set()
        self._updates_event = asyncio.Event()

    # -- faults ----------------------------------------------------------------------------

    def fail_next(self, method: str, *, status: int = 429, times: int = 1, retry_after: int = 1,
                  description: str | None = None) -> None:
        """Answer the next `times` calls of `method` with an error (429 carries retry_after)."""
        fault = (status, description, retry_after if status == 429 else None)
        with self._lock:
            self._faults[self._canonical(method)].extend([fault] * times)

    def stall_next(self, method: str, *, seconds: float, times: int = 1) -> None:
        """Hold the next `times` calls of `method` for `seconds`, then drop them with a 504 (a timeout)."""
        with self._lock:
            self._stalls[self._canonical(method)].extend([seconds] * times)

    def block_chat(self, chat_id: int) -> None:
        """Make sends to this chat answer 403 as if the young person blocked the bot."""
        with self._lock:
            self._blocked.add(chat_key(chat_id))

    def unblock_chat(self, chat_id: int) -> None:
        """Let sends to this chat succeed again."""
        with self._lock:
            self._blocked.discard(chat_key(chat_id))

    # -- recording -------------------------------------------------------------------------

    @property
    def confirmed_offset(self) -> int:
        """Return the highest getUpdates offset the client has confirmed."""
        with self._lock:
            return self._confirmed_offset

    @property
    def too_many_requests(self) -> int:
        """Return how many 429 answers enforce_limits gave (injected faults not counted)."""
        with self._lock:
            return self._too_many_requests

    @property
    def webhook(self) -> dict[str, Any] | None:
        """Return the webhook set by setWebhook, or None."""
        with self._lock:
            return copy.deepcopy(self._webhook)

    @property
    def commands(self) -> list[Any]:
        """Return the commands set by setMyCommands."""
        with self._lock:
            return copy.deepcopy(self._commands)

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        """Return recorded requests as {method, params, at, status}, oldest first."""
        with self._lock:
            wanted = None if method is None else self._canonical(method)
            return [copy.deepcopy(c) for c in self._calls if wanted is None or c["method"] == wanted]

    def sent_messages(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Return params of successful sendMessage calls, oldest first."""
        with self._lock:
            return copy.deepcopy(self._sent_to(chat_id))

    def sent_texts(self, chat_id: int | None = None) -> list[str]:
        """Return the texts of successful sendMessage calls."""
        return [m["text"] for m in self.sent_messages(chat_id)]

    def sent_files(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Return successful uploads as {method, chat_id, filename, data, mime_type, caption}."""
        with self._lock:
            key = chat_key(chat_id)
            return [dict(u) for u in self._uploads if chat_id is None or u["chat_id"] == key]

    def pending_updates(self) -> list[dict[str, Any]]:
        """Return queued updates the client has not confirmed yet."""
        with self._lock:
            return [copy.deepcopy(q.update) for q in self._queue]

    def wait_for_sent(self, chat_id: int | None, count: int = 1,
                      timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until `count` messages were sent to the chat; return them all."""
        deadline = time.monotonic() + timeout
        with self._sent_cond:
            while len(sent := self._sent_to(chat_id)) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(self._describe_shortfall(chat_id, count, timeout, sent))
                self._sent_cond.wait(remaining)
            return copy.deepcopy(sent)

    async def wait_for_sent_async(self, chat_id: int | None, count: int = 1,
                                  timeout: float = 5.0) -> list[dict[str, Any]]:
        """Await wait_for_sent without blocking the caller's event loop."""
        return await asyncio.to_thread(self.wait_for_sent, chat_id, count, timeout)

    def reset(self) -> None:
        """Forget calls, sends, faults, blocks, rate windows and pending updates.

        Ids, registered files, messages, commands and the webhook are kept, so a client that
        keeps running sees a consistent server.
        """
        with self._lock:
            self._reset_recordings()
            self._queue.clear()

    def _sent_to(self, chat_id: Any) -> list[dict[str, Any]]:
        key = chat_key(chat_id)
        return [m for m in self._sent if chat_id is None or chat_key(m["chat_id"]) == key]

    def _describe_shortfall(self, chat_id: Any, count: int, timeout: float,
                            sent: list[dict[str, Any]]) -> str:
        lines = [f"expected {count} sendMessage to chat {chat_id} within {timeout}s, "
                 f"got {len(sent)}: {[m['text'] for m in sent]!r}"]
        others: dict[Any, list[str]] = defaultdict(list)
        for m in self._sent:
            if chat_id is not None and chat_key(m["chat_id"]) != chat_key(chat_id):
                others[m["chat_id"]].append(m["text"])
        if others:
            lines.append(f"sent to other chats: {dict(others)!r}")
        failed = [(c["params"].get("chat_id"), c["status"]) for c in self._calls
                  if c["method"] == "sendMessage" and c["status"] != 200]
        if failed:
            lines.append(f"failed sendMessage answers (chat_id, status): {failed!r}")
        return "; ".join(lines)

    # -- HTTP ------------------------------------------------------------------------------

    def _canonical(self, method: str) -> str:
        return self._method_names.get(method.lower(), method)

    async def _not_found(self, request: Request) -> Response:
        return ApiError(404, "Not Found").response()

    async def _file_endpoint(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return ApiError(401).response()
        with self._lock:
            file_id = self._paths.get(request.path_params["file_path"])
            info = self._files.get(file_id) if file_id else None
        if info is None:
            return ApiError(404, "Not Found: file not found").response()
        return Response(info["data"], media_type=info["mime_type"])

    async def _api_endpoint(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return ApiError(401).response()
        method = self._canonical(request.path_params["method"])
        call: dict[str, Any] = {"method": method, "params": {}, "at": time.monotonic(), "status": None}
        with self._lock:
            self._calls.append(call)
        try:
            call["params"] = await read_params(request)
            result = await self._answer(method, call["params"])
        except ApiError as exc:
            error = exc
        except (ValueError, TypeError) as exc:  # malformed parameters such as offset="abc"
            error = ApiError(400, f"Bad Request: {exc}")
        else:
            with self._lock:
                call["status"] = 200
            return ok(result)
        with self._lock:
            call["status"] = error.status
        return error.response()

    async def _answer(self, method: str, params: dict[str, Any]) -> Any:
        with self._lock:
            stalls = self._stalls.get(method)
            stall = stalls.popleft() if stalls else None
        if stall is not None:
            # Never acted on: the client has usually given up by now, as with a Bot API that hangs.
            await asyncio.sleep(stall)
            raise ApiError(504, "Gateway Timeout")
        with self._lock:
            faults = self._faults.get(method)
            if faults:
                raise ApiError(*faults.popleft())
        if method == "getUpdates":
            return await self._get_updates(params)
        handler = self.methods.get(method)
        if handler is None:
            raise ApiError(404, "Not Found: method not found")
        if method in SEND_METHODS:
            key = self._require_chat(params)
            with self._lock:
                if key in self._blocked:
                    raise ApiError(403, "Forbidden: bot was blocked by the user")
                if self.enforce_limits:
                    self._check_rate(key)
        return handler(params)
