"""Run the fake Bot API (tests/fakes/botapi.py) in a child process, as Telegram runs on other machines.

In the bench's own process the fake's HTTP server would share the interpreter lock and the CPU time
with the service being measured; in a child it costs the service nothing but the real HTTP calls.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from multiprocessing.connection import Connection
from typing import Any


class FakeBotAPIProcess:
    """Start a FakeBotAPI in a child process and call its methods (and a few bench helpers) by name."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._lock = threading.Lock()
        self.url = ""
        self.token = ""

    def start(self) -> FakeBotAPIProcess:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads or loops inherited
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, self._options), daemon=True, name="fake-bot-api")
        self._process.start()
        self.url, self.token = self._conn.recv()
        return self

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call a FakeBotAPI method, or a helper of this module, in the child; return its result."""
        with self._lock:
            self._conn.send((name, args, kwargs))
            ok, value = self._conn.recv()
        if not ok:
            raise RuntimeError(f"fake Bot API {name} failed: {value}")
        return value

    async def acall(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call without blocking the caller's event loop."""
        return await asyncio.to_thread(self.call, name, *args, **kwargs)

    def stop(self) -> None:
        with self._lock:
            self._conn.send(None)
        self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()


def _serve(conn: Connection, options: dict[str, Any]) -> None:
    from tests.fakes.botapi import FakeBotAPI

    fake = FakeBotAPI(**options).start()
    helpers = {"push_texts": _push_texts, "send_log": _send_log, "feed_webhook": _feed_webhook}
    conn.send((fake.url, fake.token))
    try:
        while (request := conn.recv()) is not None:
            name, args, kwargs = request
            try:
                helper = helpers.get(name)
                result = helper(fake, *args, **kwargs) if helper else getattr(fake, name)(*args, **kwargs)
                conn.send((True, result))
            except Exception as exc:  # reported to the bench, which raises it there
                conn.send((False, f"{type(exc).__name__}: {exc}"))
    finally:
        fake.stop()


def _push_texts(fake: Any, chat_ids: list[int], text: str) -> list[dict[str, Any]]:
    """Queue one text from each chat; return the updates."""
    return [fake.push_text(chat_id, text) for chat_id in chat_ids]


def _send_log(fake: Any) -> list[tuple[float, int | None, Any]]:
    """Return (monotonic time, HTTP status, chat id) of every sendMessage call, oldest first."""
    with fake._lock:
        return [(c["at"], c["status"], c["params"].get("chat_id")) for c in fake._calls if c["method"] == "sendMessage"]


def _feed_webhook(fake: Any, url: str, secret: str, updates: list[dict[str, Any]], connections: int) -> list[float]:
    """POST updates to a webhook over `connections` keep-alive connections, as Telegram does; return each one's latency."""
    return asyncio.run(_post_all(url, secret, updates, connections))


async def _post_all(url: str, secret: str, updates: list[dict[str, Any]], connections: int) -> list[float]:
    import json
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for update in updates:
        queue.put_nowait(update)
    latencies: list[float] = []
    loop = asyncio.get_running_loop()

    async def worker() -> None:
        # A minimal HTTP/1.1 keep-alive client: httpx's own overhead would be measured otherwise.
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            while not queue.empty():
                body = json.dumps(queue.get_nowait()).encode()
                head = (
                    f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
                    f"X-Telegram-Bot-Api-Secret-Token: {secret}\r\nContent-Length: {len(body)}\r\n\r\n"
                )
                began = loop.time()
                writer.write(head.encode() + body)
                status = int((await reader.readline()).split()[1])
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode().partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                await reader.readexactly(length)
                if status != 200:
                    raise RuntimeError(f"webhook answered {status}")
                latencies.append(loop.time() - began)
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return latencies
