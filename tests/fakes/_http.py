"""HTTP plumbing for the fake Bot API: request decoding, answers and a threaded uvicorn server."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse

# Free text and file references stay strings even when they look like JSON ("123", "true").
STRING_PARAMS = frozenset(
    {
        "text", "caption", "url", "secret_token", "callback_query_id", "inline_message_id",
        "file_id", "parse_mode", "action", "emoji", "business_connection_id", "message_effect_id",
        "title", "description", "short_description", "name", "language_code", "ip_address",
        "document", "photo", "voice", "audio", "video", "video_note", "sticker", "animation",
    }
)

DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


class ApiError(Exception):
    """An error answer the fake gives instead of a result."""

    def __init__(self, status: int, description: str | None = None, retry_after: int | None = None):
        if description is None:
            if status == 429:
                description = f"Too Many Requests: retry after {retry_after}"
            else:
                description = DEFAULT_DESCRIPTIONS.get(status, f"Error {status}")
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def response(self) -> JSONResponse:
        """Build the JSON answer Telegram gives for this error."""
        body: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return JSONResponse(body, status_code=self.status)


def ok(result: Any) -> JSONResponse:
    """Build a successful Bot API answer."""
    return JSONResponse({"ok": True, "result": result})


def decode_value(key: str, value: Any) -> Any:
    """Turn a form value back into the JSON value the client serialised."""
    if isinstance(value, str) and key not in STRING_PARAMS:
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


async def read_params(request: Request) -> dict[str, Any]:
    """Collect query, JSON, urlencoded and multipart parameters; uploads become dicts."""
    params: dict[str, Any] = dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        body = await request.body()
        if body.strip():
            try:
                data = json.loads(body)
            except ValueError:
                raise ApiError(400, "Bad Request: can't parse JSON") from None
            if not isinstance(data, dict):
                raise ApiError(400, "Bad Request: JSON body must be an object")
            params.update(data)
    elif content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        async with request.form() as form:
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    params[key] = {
                        "filename": value.filename,
                        "data": await value.read(),
                        "mime_type": value.content_type,
                    }
                else:
                    params[key] = value
    return {key: decode_value(key, value) for key, value in params.items()}


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, ready: threading.Event):
        super().__init__(config)
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self._ready.set()


class ThreadedServer:
    """Serve an ASGI app on 127.0.0.1 from a background thread with its own event loop."""

    def __init__(self, app: Any, on_loop_start: Callable[[asyncio.AbstractEventLoop], Awaitable[None]]):
        self._app = app
        self._on_loop_start = on_loop_start
        self._thread: threading.Thread | None = None
        self._server: _Server | None = None
        self._error: BaseException | None = None
        self.port = 0

    def start(self, timeout: float = 10.0) -> None:
        """Bind a free port and block until the server accepts requests."""
        if self._thread is not None:
            raise RuntimeError("fake Bot API server is already running")
        # Binding here, before the thread starts, fixes the port and makes connects queue at once.
        # An explicit IPPROTO_TCP makes asyncio set TCP_NODELAY on accepted connections; with
        # proto 0 it does not, and Nagle adds ~40 ms to every keep-alive request.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        self.port = sock.getsockname()[1]
        ready = threading.Event()
        config = uvicorn.Config(
            self._app,
            log_config=None,  # leave the test process's logging configuration alone
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = _Server(config, ready)
        self._error = None
        self._thread = threading.Thread(
            target=self._run, args=(sock, ready), name=f"FakeBotAPI:{self.port}", daemon=True
        )
        self._thread.start()
        if not ready.wait(timeout) or not self._server.started:
            self.stop()
            raise RuntimeError("fake Bot API server did not start") from self._error

    def _run(self, sock: socket.socket, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._serve(sock))
            loop.run_until_complete(loop.shutdown_asyncgens())
        except BaseException as exc:  # surfaced by start() / stop()
            self._error = exc
        finally:
            ready.set()
            loop.close()

    async def _serve(self, sock: socket.socket) -> None:
        assert self._server is not None
        await self._on_loop_start(asyncio.get_running_loop())
        await self._server.serve(sockets=[sock])

    def stop(self, timeout: float = 5.0) -> None:
        """Ask uvicorn to exit and join the thread, forcing exit if it lingers."""
        thread, server = self._thread, self._server
        if thread is None or server is None:
            return
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError("fake Bot API server thread did not stop")
        self._thread = None
        self._server = None
