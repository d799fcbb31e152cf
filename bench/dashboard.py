"""Seed a council-sized service and print how long each dashboard indicator and the whole page take.

At --scale 1: 10,000 young people, 500 staff and 2,000,000 messages over 26 weeks, with check-ins,
appointments (and their reminders), alerts, missing episodes, wellbeing and listened-to answers,
handovers, teams, leave and placement moves. Rows go in with bulk inserts (SQLite executemany,
PostgreSQL COPY), with a progress bar; then the rollups (reply waits, messages by week, wellbeing scores)
are built (and timed) as their job would build them. Runs on SQLite (a temp file) and, when
KEYWORKER_TEST_DATABASE_URL is set, on a private database made next to it (and dropped afterwards).

Run from the repository root:
    .venv/bin/python -m bench.dashboard [--scale 1] [--runs 5] [--only sqlite|postgresql] [--sqlite-file PATH]
Side by side with another tree's page code (e.g. `git archive HEAD | tar -x -C /tmp/before`), on one seeded database:
    PYTHONPATH=/tmp/before .venv/bin/python bench/dashboard.py --page-only URL --runs 3
    PYTHONPATH=. .venv/bin/python bench/dashboard.py --page-only URL --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from rich.console import Console
from sqlalchemy import delete
from rich.table import Table as RichTable
from starlette.templating import Jinja2Templates

from bench.dashboard_seed import NOW, seed_postgres, seed_sqlite
from bench.seed import private_postgres_async
from bot.keys import load_keyring
from bot.services.indicators import GROUPS, Scope, ScopeKind, compute_dashboard, make_period
from bot.services.indicators.kept import kept_dashboard, refresh
from bot.services.indicators.rollup import EVERY, build_message_weeks, build_reply_waits, build_wellbeing_scores
from bot.services.indicators.show import show_dashboard
from config.settings import Settings
from console.templating import build_templates
from models import crypto
from models.db import create_engine, create_sessionmaker
from models import MessageWeek, ReplyWait, RollupMark, WellbeingScore
from models.migrate import upgrade

console = Console(stderr=True)
FRESH = timedelta(minutes=1)  # as deployed: KEYWORKER_DASHBOARD_FRESH_SECONDS=60


def render(templates: Jinja2Templates, board, tables, shown) -> str:  # type: ignore[no-untyped-def]
    """Render the page's template as the route does (a stand-in request: the page needs only its path).

    templates: built once, as the service builds them at start-up (compiling the templates is not part of a page).
    """
    request = SimpleNamespace(
        state=SimpleNamespace(staff=SimpleNamespace(role="manager", display_name="Priya"), csrf_token="x"),
        url=SimpleNamespace(path="/dashboard", query=""), app=SimpleNamespace(state=SimpleNamespace()),
    )
    context = {
        "request": request, "shown": shown, "period": board.period, "scope": board.scope, "periods": (),
        "filters": {"period": board.period.name, "first": "", "last": "", "scope": "service", "staff_id": None},
        "is_manager": True, "staff_choices": [], "export_query": "period=4weeks", "csv_tables": (), "version": "1", "refresh_seconds": 60,
    }
    return templates.get_template("dashboard/page.html").render(context)


async def timed(runs: int, make) -> float:  # type: ignore[no-untyped-def]
    """Run a coroutine factory several times; return the median wall time in milliseconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await make()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


async def build_rollup(db, settings: Settings, dialect: str) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Build the rollups from scratch (all 26 weeks in one go), then time one 5-minute run of the job."""
    async with db() as session:
        await session.execute(delete(ReplyWait))
        await session.execute(delete(MessageWeek))
        await session.execute(delete(WellbeingScore))
        await session.execute(delete(RollupMark))
        await session.commit()
    times = {}
    for label, at in (("rollup: whole build (26 weeks of messages)", NOW - EVERY), ("rollup job: one 5-minute run", NOW)):
        start = time.perf_counter()
        async with db() as session:
            built = await build_reply_waits(session, at, settings.tz)
            counted = await build_message_weeks(session, at, settings.tz)
            scored = await build_wellbeing_scores(session, at)
            await session.commit()
        times[label] = (time.perf_counter() - start) * 1000
        console.print(f"{label}: {built.waits:,} waits, {counted.waits:,} message weeks and {scored.waits:,} scores in {times[label]:,.0f} ms")
        if dialect == "postgresql":  # as autovacuum would after the first build: index-only scans need the visibility map
            async with db() as session:
                connection = await session.connection()
                await connection.exec_driver_sql("COMMIT")
                await connection.exec_driver_sql("VACUUM ANALYZE reply_waits")
                await connection.exec_driver_sql("VACUUM ANALYZE message_weeks")
                await connection.exec_driver_sql("VACUUM ANALYZE wellbeing_scores")
    return times


async def measure(url: str, settings: Settings, runs: int, *, page_only: bool = False) -> dict[str, float]:
    """Build the rollups and time each group, the tables and the whole page (page_only: the page alone, rollups as they are)."""
    engine = create_engine(url)
    db = create_sessionmaker(engine)
    period = make_period("4weeks", NOW.astimezone(settings.tz).date(), settings.tz)
    results: dict[str, float] = {}
    try:
        if not page_only:
            results.update(await build_rollup(db, settings, engine.dialect.name))
        async with db() as session:
            service = Scope()
            for module in () if page_only else GROUPS:
                name = module.__name__.rsplit(".", 1)[-1]
                results[name] = await timed(runs, lambda n=name: compute_dashboard(session, period, service, NOW, (n,)))
            if not page_only:
                results["tables (workers, teams)"] = await timed(runs, lambda: compute_dashboard(session, period, service, NOW, ("none",), tables=True))

            templates = build_templates(settings.tz)

            async def page(scope: Scope, only: int | None = None) -> str:
                board = await compute_dashboard(session, period, scope, NOW, tables=True, own=only)
                return render(templates, board, board.tables, show_dashboard(board, board.tables))

            cpu = time.process_time()
            results["whole page, service"] = await timed(runs, lambda: page(service))
            if page_only:  # less disturbed by other work than wall time; on SQLite the database works in this process
                results["bench process CPU per service page"] = (time.process_time() - cpu) * 1000 / runs
            results["whole page, one key worker"] = await timed(runs, lambda: page(Scope(ScopeKind.WORKER, 1), 1))

            async def kept_page(scope: Scope, only: int | None = None) -> str:
                board = await kept_dashboard(session, period, scope, NOW, own=only, fresh=FRESH)
                return render(templates, board, board.tables, show_dashboard(board, board.tables))

            # As a manager finds it: the refresh job has worked out the view in the last minute (as it does every minute).
            await refresh(db, NOW, settings.tz)
            results["whole page, service, kept fresh"] = await timed(runs, lambda: kept_page(service))
            await kept_page(Scope(ScopeKind.WORKER, 1), 1)  # the key worker's page a moment ago (kept fresh while looked at)
            results["whole page, one key worker, kept fresh"] = await timed(runs, lambda: kept_page(Scope(ScopeKind.WORKER, 1), 1))
    finally:
        await engine.dispose()
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1 = 10,000 young people, 500 staff, 2,000,000 messages")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", choices=("sqlite", "postgresql"), default=None)
    parser.add_argument("--sqlite-file", type=Path, default=None, help="keep the seeded SQLite file here; reuse it if it exists")
    parser.add_argument(
        "--page-only", metavar="URL", default=None,
        help="time only the whole page on a database this bench seeded before (rollups built); run as a script path with "
        "PYTHONPATH=<another tree> to time that tree's page code on the same data, side by side",
    )
    args = parser.parse_args()
    pg_url = os.environ.get("KEYWORKER_TEST_DATABASE_URL")
    columns: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url="sqlite+aiosqlite:///x", data_dir=Path(tmp), secret_key="b" * 40)
        crypto.configure(load_keyring(settings))
        if args.page_only:
            found = await measure(args.page_only, settings, args.runs, page_only=True)
            print(", ".join(f"{k}: {v:,.0f} ms" for k, v in found.items()))
            return
        if args.only in (None, "sqlite"):
            path = args.sqlite_file or Path(tmp) / "bench.db"
            url = f"sqlite+aiosqlite:///{path}"
            if path.exists():
                counts = {"(reused)": 0}
            else:
                await upgrade(url)
                counts = seed_sqlite(path, args.scale, console)
            columns["SQLite"] = await measure(url, settings, args.runs)
        if args.only in (None, "postgresql") and pg_url:
            async with private_postgres_async(pg_url) as url:
                await upgrade(url)
                counts = await seed_postgres(url, args.scale, console)
                columns["PostgreSQL"] = await measure(url, settings, args.runs)
    console.print("Seeded: " + ", ".join(f"{n:,} {t}" for t, n in counts.items()))
    table = RichTable(title=f"Dashboard, last 4 weeks, median of {args.runs} runs (ms)")
    table.add_column("indicator")
    for name in columns:
        table.add_column(name, justify="right")
    for key in next(iter(columns.values())):
        table.add_row(key, *[f"{columns[c][key]:,.1f}" for c in columns])
    Console().print(table)


if __name__ == "__main__":
    asyncio.run(main())
