"""Print how many inbound Telegram messages a second the whole service handles, against a bare PTB echo bot.

Each of N young people sends one text in the evening (out of their worker's hours), so every message is
stored, checked for risk, published to the console's live stream and answered with the automatic
out-of-hours reply: the figure is first message pushed to last reply received by the fake Bot API
(which runs in a child process), with the 50th and 99th percentile of push-to-reply latency. In the
same run a bare python-telegram-bot echo bot (default Application, long polling, in a child process)
answers the same number of messages from the same fake server; our rate is printed as a ratio of its.
Peak RSS of the service process under load is sampled too (--people 10000 for the memory figure), and the SQL
statements the service runs are counted (per message: the inbound text and its reply together).

The fake server has no limits, like the echo bot, so the service's own limit on sends (Telegram's 30 a second) is
lifted to match (--telegram-limit keeps it). Each young person has their wellbeing plan, as everyone who joined
through /start has (only people linked before wellbeing prompts existed get theirs with their first message).

The service runs on uvloop, as `keyworker serve` does (uvicorn's loop "auto"); --loop asyncio runs it on asyncio's
own loop, as this bench did before 2026-12-01 13:00. Besides the service's CPU seconds, the CPU seconds of its
PostgreSQL backends and of the fake Bot API's process are printed; --statements prints the commonest SQL.

Run from the repository root (PostgreSQL when KEYWORKER_TEST_DATABASE_URL is set, on a private database):
    .venv/bin/python bench/inbound.py [--messages 2000] [--people N] [--quick] [--only sqlite|postgresql] [--telegram-limit]
        [--modes polling,webhook] [--loop uvloop|asyncio] [--statements]
Or the replies alone, through the Telegram channel over httpx (as before) and then over aiohttp:
    .venv/bin/python bench/inbound.py --sends 2000 [--latency 150] [--telegram-limit]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.util import find_spec
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for bench.* and tests.fakes

import uvicorn
from pydantic import SecretStr
from sqlalchemy import event, func, insert, literal, make_url, select
from sqlalchemy.engine import Engine

from bench.fakeproc import FakeBotAPIProcess
from bench.seed import CHAT_BASE, private_postgres, progress, seed_people
from bot.app import create_app
from bot.clock import FrozenClock
from bot.keys import load_keyring
from config.settings import Settings
from bot.services.wellbeing_plan import DEFAULT_FREQUENCY, DEFAULT_QUESTIONNAIRE
from models import Direction, Message, WellbeingPlan, YoungPerson, crypto
from models.base import UTCDateTime
from models.migrate import upgrade

# Wednesday 25 November 2026, 20:00 in London: out of hours, so every first message gets an answer.
NOW = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
TEXT = "hi, just saying I got to college ok today"
SECRET = "bench-webhook-secret-0123456789"
ECHO_CHAT_BASE = 9_000_000
SHOW_STATEMENTS = False  # --statements: print the commonest SQL the service ran


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def postgres_cpu(database: str | None) -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL backend on this machine serving `database`, by process id."""
    used, tick = {}, os.sysconf("SC_CLK_TCK")
    if not database:
        return used
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                if f" {database} ".encode() not in cmdline.read():  # "postgres: 15/main: user database host(port) state"
                    continue
            with open(f"/proc/{entry.name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[int(entry.name)] = sum(int(value) for value in fields[11:13]) / tick  # utime, stime
    return used


def process_cpu(pid: int) -> float:
    """CPU seconds a process (the fake Bot API's, say) has used so far, its threads included."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:13]) / os.sysconf("SC_CLK_TCK")


def figures(pushed_at: float, log: list[tuple[float, int | None, object]], count: int) -> tuple[float, float, float, int]:
    """Return messages a second, p50 and p99 latency (ms) from the push to each chat's first reply, and replies."""
    first: dict[object, float] = {}
    for at, status, chat in log:
        if status == 200 and chat not in first:
            first[chat] = at
    if not first:
        return 0.0, float("nan"), float("nan"), 0
    latencies = sorted(at - pushed_at for at in first.values())
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return len(first) / latencies[-1], statistics.median(latencies) * 1000, p99 * 1000, len(first)


async def wait_for_replies(fake: FakeBotAPIProcess, count: int, label: str, stall: float = 30.0) -> list:
    last, changed = -1, time.monotonic()
    while True:
        await asyncio.sleep(0.25)
        log = await fake.acall("send_log")
        replies = len({chat for _, status, chat in log if status == 200})
        progress(label, replies, count)
        if replies != last:
            last, changed = replies, time.monotonic()
        if replies >= count or time.monotonic() - changed > stall:
            return log


def _echo_bot(url: str, token: str) -> None:
    """Run a bare python-telegram-bot echo bot, as its examples do, until terminated."""
    from telegram import Update
    from telegram.ext import Application, MessageHandler, filters

    async def echo(update: Update, _context: object) -> None:
        await update.message.reply_text(update.message.text)  # type: ignore[union-attr]

    app = Application.builder().token(token).base_url(f"{url}/bot").base_file_url(f"{url}/file/bot").build()
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.run_polling(poll_interval=0.0, timeout=1)


async def bench_echo(fake: FakeBotAPIProcess, count: int) -> tuple[float, float, float, int]:
    process = multiprocessing.get_context("spawn").Process(target=_echo_bot, args=(fake.url, fake.token), daemon=True)
    process.start()
    try:
        await fake.acall("push_texts", [ECHO_CHAT_BASE - 1], "warm up")
        await wait_for_replies(fake, 1, "echo bot warming up")
        await fake.acall("reset")
        pushed_at = time.monotonic()
        await fake.acall("push_texts", [ECHO_CHAT_BASE + i for i in range(count)], TEXT)
        log = await wait_for_replies(fake, count, "echo bot replies")
    finally:
        process.terminate()
        process.join(10)
    return figures(pushed_at, log, count)


async def bench_service(fake: FakeBotAPIProcess, settings: Settings, count: int, webhook: bool) -> dict[str, float]:
    await fake.acall("reset")
    app = create_app(settings, clock=FrozenClock(NOW))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    baseline, peak = rss_mib(), 0.0
    sampling = True

    async def sample() -> None:
        nonlocal peak
        while sampling:
            peak = max(peak, rss_mib())
            await asyncio.sleep(0.1)

    sampler = asyncio.create_task(sample())
    statements = 0
    kinds: Counter[str] = Counter()

    def count_statement(_connection: object, _cursor: object, sql: str, *_: object) -> None:
        nonlocal statements
        statements += 1
        if SHOW_STATEMENTS:
            kinds[" ".join(sql.split())[:110]] += 1

    event.listen(Engine, "before_cursor_execute", count_statement)
    database = make_url(settings.database_url).database if settings.database_url.startswith("postgresql") else None
    cpu, database_cpu, fake_cpu = time.process_time(), postgres_cpu(database), process_cpu(fake._process.pid)
    try:
        chats = [CHAT_BASE + i for i in range(count)]
        if webhook:
            updates = await fake.acall("push_texts", chats, TEXT)
            pushed_at = time.monotonic()
            feeding = fake.acall("feed_webhook", f"http://127.0.0.1:{port}/telegram/webhook", SECRET, updates, 40)
            log, _ = await asyncio.gather(wait_for_replies(fake, count, "replies"), feeding)
        else:
            pushed_at = time.monotonic()
            await fake.acall("push_texts", chats, TEXT)
            log = await wait_for_replies(fake, count, "replies")
        await app.state.runtime.outbox.drain()
        # Backends that ended meanwhile are missed; the engine's and the relay's are still open here.
        fake_cpu = process_cpu(fake._process.pid) - fake_cpu
        cpu, database_cpu = time.process_time() - cpu, sum(
            used - database_cpu.get(pid, 0.0) for pid, used in postgres_cpu(database).items()
        )
        sends = app.state.runtime.telegram.sends  # how many sends at once the channel settled on
        async with app.state.runtime.db() as session:
            stored = dict((await session.execute(
                select(Message.direction, func.count()).group_by(Message.direction))).all())
    finally:
        event.remove(Engine, "before_cursor_execute", count_statement)
        sampling = False
        await sampler
        server.should_exit = True
        await task
    for sql, times in kinds.most_common(20):
        print(f"  {times:6,} x {sql}")
    rate, p50, p99, replies = figures(pushed_at, log, count)
    return {"rate": rate, "p50": p50, "p99": p99, "replies": replies, "cpu": cpu, "database_cpu": database_cpu, "fake_cpu": fake_cpu, "baseline": baseline, "peak": peak,
            "inbound": stored.get(Direction.INBOUND, 0), "outbound": stored.get(Direction.OUTBOUND, 0),
            "statements": statements / max(1, stored.get(Direction.INBOUND, 0)), "limit": sends.limit,
            "quickest": sends.quickest * 1000}


async def seed_plans(url: str, now: datetime) -> None:
    """Give every young person the default wellbeing plan, as joining through /start does."""
    from models.db import create_engine

    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(insert(WellbeingPlan).from_select(
            ["young_person_id", "questionnaire", "frequency", "revision", "updated_at"],
            select(YoungPerson.id, literal(DEFAULT_QUESTIONNAIRE), literal(DEFAULT_FREQUENCY), literal(1), literal(now, UTCDateTime)),
        ))
    await engine.dispose()


async def run(name: str, url: str, count: int, people: int, data_dir: Path, modes: list[str], global_rate: int) -> None:
    print(f"\n== {name}: {count:,} messages from {count:,} of {people:,} young people ==")
    await upgrade(url)
    fake = FakeBotAPIProcess().start()
    try:
        settings = Settings(database_url=url, data_dir=data_dir, secret_key="b" * 40, telegram_token=fake.token,
                            telegram_api_url=fake.url, telegram_poll_timeout=1, scheduler_interval_seconds=0,
                            out_of_hours_phone="0300 123 4567", telegram_global_rate=global_rate)
        crypto.configure(load_keyring(settings))
        await seed_people(url, people, NOW)
        await seed_plans(url, NOW)
        gc.collect()
        echo_rate, echo_p50, echo_p99, echo_n = await bench_echo(fake, count)
        print(f"bare PTB echo bot (polling):  {echo_rate:7.0f} messages/s, p50 {echo_p50:7.0f} ms, p99 {echo_p99:7.0f} ms"
              f" ({echo_n:,} replies)")
        for index, mode in enumerate(modes):
            webhook = mode == "webhook"
            run_settings = settings.model_copy(update={
                "telegram_webhook_url": "https://bench.invalid/telegram/webhook" if webhook else None,
                "telegram_webhook_secret": SecretStr(SECRET) if webhook else None,
            })
            if index:  # each mode answers fresh young people: one out-of-hours answer per evening each
                await fake.acall("reset")
            result = await bench_service(fake, run_settings, count, webhook)
            print(f"Keyworker ({mode}):{' ' * (12 - len(mode))}{result['rate']:7.0f} messages/s, p50 {result['p50']:7.0f} ms,"
                  f" p99 {result['p99']:7.0f} ms ({result['replies']:,} replies) = {result['rate'] / echo_rate:.2f} x echo bot"
                  f" (target 0.50)")
            server = f" (its PostgreSQL backends {result['database_cpu']:.1f})" if name == "PostgreSQL" else ""
            print(f"  stored: {result['inbound']:,} inbound, {result['outbound']:,} replies; {result['statements']:.1f} SQL"
                  f" statements a message; {result['cpu']:.1f} CPU s{server}, the fake Bot API's {result['fake_cpu']:.1f};"
                  f" service RSS before load {result['baseline']:.0f} MiB, peak under load {result['peak']:.0f} MiB;"
                  f" sends at once at the end {result['limit']} (quickest answer {result['quickest']:.1f} ms)")
            if len(modes) > 1 and index == 0:
                await reset_people(url)
    finally:
        fake.stop()


async def reset_people(url: str) -> None:
    """Forget the first mode's messages and receipts so the next mode's young people write for the first time."""
    from sqlalchemy import delete, update

    from models import ChannelLink, InboundReceipt
    from models.db import create_engine

    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(delete(Message))
        await connection.execute(delete(InboundReceipt))
        await connection.execute(update(YoungPerson).values(last_inbound_at=None, last_message_at=None))
        await connection.execute(update(ChannelLink).values(last_inbound_at=None))
    await engine.dispose()


async def bench_sends(count: int, latency_ms: float, global_rate: int) -> None:
    """Send `count` replies to as many chats through the Telegram channel alone: over httpx (as before), then aiohttp."""
    from telegram.request import HTTPXRequest

    from bot.channels.base import Outgoing
    from bot.channels.telegram import TelegramChannel
    from bot.content import Content

    print(f"\n== sends only: {count:,} replies through the Telegram channel, {latency_ms:.0f} ms added to each call,"
          f" {'30 a second' if global_rate == 30 else 'no limit'} ==")
    fake = FakeBotAPIProcess().start()
    try:
        for name in ("httpx (before)", "aiohttp"):
            # python-telegram-bot's default transport, as the channel had it before, or the channel's own
            before = HTTPXRequest(connection_pool_size=64, read_timeout=15, write_timeout=15) if name.startswith("httpx") else None
            channel = TelegramChannel(
                fake.token, fake.url, Content.load(), global_rate=global_rate, per_chat_rate=1000, request=before
            )
            await channel.start()
            if latency_ms:  # a Bot API far away: each call waits this long before it goes
                request = channel.bot._request[1]
                send = request.do_request

                async def far(*args: object, _send: object = send, **kwargs: object) -> object:
                    await asyncio.sleep(latency_ms / 1000)
                    return await _send(*args, **kwargs)  # type: ignore[operator]

                request.do_request = far  # type: ignore[method-assign]
            outbox = asyncio.Semaphore(16)  # as the outbox hands them over (SENDING_AT_ONCE)

            async def one(chat: int) -> None:
                async with outbox:
                    await channel.send(str(chat), Outgoing(message_id=chat, young_person_id=chat, text=TEXT))

            await asyncio.gather(*(one(ECHO_CHAT_BASE + 100_000 + i) for i in range(20)))  # warm up
            limits: list[int] = []

            async def watch() -> None:
                while True:
                    limits.append(channel.sends.limit)
                    await asyncio.sleep(0.05)

            watcher = asyncio.create_task(watch())
            cpu, started = time.process_time(), time.monotonic()
            await asyncio.gather(*(one(ECHO_CHAT_BASE + 200_000 + i) for i in range(count)))
            cpu, took = time.process_time() - cpu, time.monotonic() - started
            watcher.cancel()
            await channel.stop()
            print(f"{name:24s} {count / took:7.1f} sends/s, {cpu / count * 1e6:5.0f} us CPU a send;"
                  f" sends at once: median {statistics.median(limits):.0f}, most {max(limits)}")
    finally:
        fake.stop()


def event_loop(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The service's event loop: uvloop, as `keyworker serve` has it (uvicorn's loop "auto"), or asyncio's own."""
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2_000)
    parser.add_argument("--people", type=int, default=0, help="young people seeded (default: one per message)")
    parser.add_argument("--quick", action="store_true", help="200 messages: a smoke run")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--modes", default="polling,webhook")
    parser.add_argument("--telegram-limit", action="store_true", help="keep the service's 30 sends a second to Telegram")
    parser.add_argument("--sends", type=int, default=0, help="instead: this many replies through the Telegram channel alone")
    parser.add_argument("--latency", type=float, default=0.0, help="with --sends: milliseconds added to each call")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop" if find_spec("uvloop") else "asyncio",
                        help="the service's event loop (default: uvloop where installed, as `keyworker serve` runs)")
    parser.add_argument("--statements", action="store_true", help="print the commonest SQL statements the service ran")
    args = parser.parse_args()
    global SHOW_STATEMENTS
    SHOW_STATEMENTS = args.statements
    loop = event_loop(args.loop)
    print(f"event loop: {args.loop}")
    if args.sends:
        with asyncio.Runner(loop_factory=loop) as runner:
            runner.run(bench_sends(args.sends, args.latency, 30 if args.telegram_limit else 100_000))
        return
    count = 200 if args.quick else args.messages
    people = max(args.people, count)
    modes = [m for m in args.modes.split(",") if m]
    global_rate = 30 if args.telegram_limit else 100_000
    with tempfile.TemporaryDirectory(prefix="keyworker-bench-") as tmp:
        data_dir = Path(tmp)
        if args.only != "postgresql":
            with asyncio.Runner(loop_factory=loop) as runner:
                runner.run(run("SQLite", f"sqlite+aiosqlite:///{data_dir / 'bench.db'}", count, people, data_dir, modes, global_rate))
        base = os.environ.get("KEYWORKER_TEST_DATABASE_URL")
        if base and args.only != "sqlite":
            with private_postgres(base) as url:
                with asyncio.Runner(loop_factory=loop) as runner:
                    runner.run(run("PostgreSQL", url, count, people, data_dir, modes, global_rate))
        elif not base:
            print("\n(PostgreSQL skipped: set KEYWORKER_TEST_DATABASE_URL to include it)")


if __name__ == "__main__":
    main()
