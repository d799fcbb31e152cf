"""Server-side state of the fake Bot API and the Bot API methods that act on it."""

from __future__ import annotations

import asyncio
import copy
import itertools
import math
import mimetypes
import re
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

from ._http import ApiError

# Methods that put something in a chat: rate limits and blocked chats apply to these.
SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument", "sendChatAction"})
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


@dataclass
class Queued:
    update: dict[str, Any]
    delivered: bool = False
    redelivery: bool = False


def chat_key(chat_id: Any) -> Any:
    """Normalise a chat id so 42 and "42" match."""
    if isinstance(chat_id, str) and re.fullmatch(r"-?\d+", chat_id):
        return int(chat_id)
    return chat_id


class BotApiState:
    """Hold what the fake server knows and answer the Bot API methods that act on it."""

    def __init__(self, token: str, username: str, enforce_limits: bool,
                 global_per_second: int, per_chat_per_second: int):
        self.token = token
        self.username = username
        self.bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        self.enforce_limits = enforce_limits
        self.global_per_second = global_per_second
        self.per_chat_per_second = per_chat_per_second
        self._lock = threading.RLock()
        self._sent_cond = threading.Condition(self._lock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._updates_event: asyncio.Event | None = None
        self._closing = False
        self._next_update_id = 1
        self._queue: list[Queued] = []
        self._confirmed_offset = 0
        self._message_ids: dict[Any, itertools.count[int]] = defaultdict(lambda: itertools.count(1))
        self._messages: dict[tuple[Any, int], dict[str, Any]] = {}
        self._profiles: dict[Any, dict[str, Any]] = {}
        self._callback_ids: set[str] = set()
        self._callback_counter = itertools.count(1)
        self._files: dict[str, dict[str, Any]] = {}
        self._paths: dict[str, str] = {}
        self._file_counter = itertools.count(1)
        self._webhook: dict[str, Any] | None = None
        self._commands: list[Any] = []
        self._reset_recordings()
        self.methods = {
            "getMe": self._get_me,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendChatAction": self._send_chat_action,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "getFile": self._get_file,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendDocument": lambda p: self._send_upload("sendDocument", "document", p),
            "sendPhoto": lambda p: self._send_upload("sendPhoto", "photo", p),
        }

    def _reset_recordings(self) -> None:
        self._calls: list[dict[str, Any]] = []
        self._sent: list[dict[str, Any]] = []
        self._uploads: list[dict[str, Any]] = []
        self._faults: dict[str, deque[tuple[int, str | None, int | None]]] = defaultdict(deque)
        self._stalls: dict[str, deque[float]] = defaultdict(deque)
        self._blocked: set[Any] = set()
        self._window_global: deque[float] = deque()
        self._window_chat: dict[Any, deque[float]] = defaultdict(deque)
        self._too_many_requests = 0

    # -- Telegram objects -----------------------------------------------------------------

    def _register(self, data: bytes, mime_type: str, file_name: str | None = None) -> dict[str, Any]:
        with self._lock:
            n = next(self._file_counter)
            if file_name and "." in file_name:
                ext = "." + file_name.rsplit(".", 1)[1]
            elif mime_type == "audio/ogg":
                ext = ".oga"
            else:
                ext = mimetypes.guess_extension(mime_type) or ""
            folder = {"image": "photos", "audio": "voice", "video": "videos"}.get(
                mime_type.split("/")[0], "documents")
            info = {"file_id": f"FILE{n:04d}-{self.bot_id}", "file_unique_id": f"U{n:04d}",
                    "file_size": len(data), "file_path": f"{folder}/file_{n}{ext}",
                    "data": bytes(data), "mime_type": mime_type}
            self._files[info["file_id"]] = info
            self._paths[info["file_path"]] = info["file_id"]
            return info

    @staticmethod
    def _public(info: dict[str, Any]) -> dict[str, Any]:
        return {k: info[k] for k in ("file_id", "file_unique_id", "file_size")}

    def _bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Keyworker", "username": self.username}

    def _user(self, key: Any) -> dict[str, Any]:
        profile = self._profiles.get(key, {"first_name": "Sam", "username": None})
        user = {"id": key, "is_bot": False, "first_name": profile["first_name"], "language_code": "en"}
        if profile["username"]:
            user["username"] = profile["username"]
        return user

    def _chat(self, key: Any) -> dict[str, Any]:
        user = self._user(key)
        chat = {"id": key, "type": "private", "first_name": user["first_name"]}
        if "username" in user:
            chat["username"] = user["username"]
        return chat

    # -- limits ----------------------------------------------------------------------------

    def _check_rate(self, key: Any) -> None:
        """Answer 429 if this send would exceed Telegram's limits in the last second."""
        now = time.monotonic()
        windows = (
            (self._window_global, self.global_per_second),
            (self._window_chat[key], self.per_chat_per_second),
        )
        wait = 0.0
        for window, limit in windows:
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= limit:
                wait = max(wait, window[0] + 1.0 - now)
        if wait > 0:
            self._too_many_requests += 1
            raise ApiError(429, retry_after=max(1, math.ceil(wait)))
        for window, _ in windows:
            window.append(now)

    # -- methods ---------------------------------------------------------------------------

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + float(params.get("timeout") or 0)
        with self._lock:
            if self._webhook is not None:
                raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                    "use deleteWebhook to delete the webhook first")
        while True:
            event = self._updates_event
            assert event is not None
            batch = self._take_updates(offset, limit)
            remaining = deadline - loop.time()
            if batch or self._closing or remaining <= 0:
                return batch
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return self._take_updates(offset, limit)

    def _take_updates(self, offset: int, limit: int) -> list[dict[str, Any]]:
        with self._lock:
            if offset < 0:
                self._queue = self._queue[offset:]
            elif offset > 0:
                self._queue = [q for q in self._queue
                               if q.update["update_id"] >= offset or (q.redelivery and not q.delivered)]
                self._confirmed_offset = max(self._confirmed_offset, offset)
            batch = self._queue[:limit]
            for queued in batch:
                queued.delivered = True
            return [copy.deepcopy(q.update) for q in batch]

    def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**self._bot_user(), "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False}

    @staticmethod
    def _require_chat(params: dict[str, Any]) -> Any:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        return chat_key(chat_id)

    @staticmethod
    def _check_markup(markup: Any) -> dict[str, Any] | None:
        """Validate callback data like Telegram and return markup worth echoing in a Message."""
        if not isinstance(markup, dict) or "inline_keyboard" not in markup:
            return None
        for row in markup["inline_keyboard"]:
            for button in row:
                if len(str(button.get("callback_data", "")).encode()) > 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup

    @staticmethod
    def _check_text(text: Any, limit: int = 4096) -> str:
        if text is None or str(text) == "":
            raise ApiError(400, "Bad Request: message text is empty")
        if len(str(text)) > limit:
            raise ApiError(400, "Bad Request: message is too long")
        return str(text)

    def _bot_message(self, key: Any, **content: Any) -> dict[str, Any]:
        message = {"message_id": next(self._message_ids[key]), "from": self._bot_user(),
                   "chat": self._chat(key), "date": int(time.time()),
                   **{k: v for k, v in content.items() if v is not None}}
        self._messages[(key, message["message_id"])] = message
        return copy.deepcopy(message)

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        key = self._require_chat(params)
        text = self._check_text(params.get("text"))
        markup = self._check_markup(params.get("reply_markup"))
        with self._sent_cond:
            message = self._bot_message(key, text=text, reply_markup=markup)
            self._sent.append(params)
            self._sent_cond.notify_all()
        return message

    def _stored_message(self, params: dict[str, Any], verb: str) -> dict[str, Any] | None:
        if params.get("inline_message_id"):
            return None
        key = self._require_chat(params)
        message = self._messages.get((key, int(params.get("message_id") or 0)))
        if message is None:
            raise ApiError(400, f"Bad Request: message to {verb} not found")
        return message

    def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        text = self._check_text(params.get("text"))
        markup = self._check_markup(params.get("reply_markup"))
        with self._lock:
            message = self._stored_message(params, "edit")
            if message is None:
                return True
            if "text" not in message:
                raise ApiError(400, "Bad Request: there is no text in the message to edit")
            return self._edit(message, text=text, reply_markup=markup)

    def _edit_message_reply_markup(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        markup = self._check_markup(params.get("reply_markup"))
        with self._lock:
            message = self._stored_message(params, "edit")
            if message is None:
                return True
            return self._edit(message, text=message.get("text"), reply_markup=markup)

    @staticmethod
    def _edit(message: dict[str, Any], text: Any, reply_markup: Any) -> dict[str, Any]:
        # Like Telegram, an edit without reply_markup removes the inline keyboard.
        if message.get("text") == text and message.get("reply_markup") == reply_markup:
            raise ApiError(400, NOT_MODIFIED)
        if text is not None:
            message["text"] = text
        message["edit_date"] = int(time.time())
        if reply_markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = reply_markup
        return copy.deepcopy(message)

    def _delete_message(self, params: dict[str, Any]) -> bool:
        with self._lock:
            self._stored_message(params, "delete")
            del self._messages[(self._require_chat(params), int(params["message_id"]))]
        return True

    def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        with self._lock:
            if str(params.get("callback_query_id")) not in self._callback_ids:
                raise ApiError(400, "Bad Request: query is too old and response timeout expired "
                                    "or query ID is invalid")
        return True

    def _send_chat_action(self, params: dict[str, Any]) -> bool:
        if not params.get("action"):
            raise ApiError(400, "Bad Request: action is empty")
        return True

    def _get_my_commands(self, params: dict[str, Any]) -> list[Any]:
        with self._lock:
            return copy.deepcopy(self._commands)

    def _set_my_commands(self, params: dict[str, Any]) -> bool:
        with self._lock:
            self._commands = list(params.get("commands") or [])
        return True

    def _delete_my_commands(self, params: dict[str, Any]) -> bool:
        with self._lock:
            self._commands = []
        return True

    def _get_file(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            info = self._files.get(str(params.get("file_id")))
        if info is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {**self._public(info), "file_path": info["file_path"]}

    def _set_webhook(self, params: dict[str, Any]) -> bool:
        url, secret = params.get("url") or "", params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        with self._lock:
            if params.get("drop_pending_updates"):
                self._queue.clear()
            # Telegram treats an empty url as "remove the webhook".
            self._webhook = {"url": url, "secret_token": secret,
                             "allowed_updates": params.get("allowed_updates"),
                             "max_connections": params.get("max_connections")} if url else None
        return True

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        with self._lock:
            if params.get("drop_pending_updates"):
                self._queue.clear()
            self._webhook = None
        return True

    def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            webhook = self._webhook or {}
            info = {"url": webhook.get("url", ""), "has_custom_certificate": False,
                    "pending_update_count": len(self._queue)}
            for key in ("allowed_updates", "max_connections"):
                if webhook.get(key) is not None:
                    info[key] = webhook[key]
            return info

    def _send_upload(self, method: str, field: str, params: dict[str, Any]) -> dict[str, Any]:
        key = self._require_chat(params)
        caption = params.get("caption")
        if caption is not None and len(str(caption)) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        markup = self._check_markup(params.get("reply_markup"))
        upload = params.get(field)
        if isinstance(upload, dict):
            mime = upload["mime_type"] or "application/octet-stream"
            info = self._register(upload["data"], mime, upload["filename"])
            with self._lock:
                self._uploads.append({"method": method, "chat_id": key, "filename": upload["filename"],
                                      "data": upload["data"], "mime_type": mime, "caption": caption})
        else:
            with self._lock:
                info = self._files.get(str(upload))
            if info is None and str(upload).startswith(("http://", "https://")):
                info = self._register(b"", "application/octet-stream", str(upload).rsplit("/", 1)[-1])
            if info is None:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if field == "photo":
            media: Any = [{**self._public(info), "width": 800, "height": 600}]
        else:
            name = upload["filename"] if isinstance(upload, dict) else info["file_path"].rsplit("/", 1)[-1]
            media = {**self._public(info), "file_name": name, "mime_type": info["mime_type"]}
        with self._lock:
            return self._bot_message(key, **{field: media}, caption=caption, reply_markup=markup)
