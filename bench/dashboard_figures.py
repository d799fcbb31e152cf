"""Write every figure, breakdown and table of the dashboard for a seeded database, to compare two trees' output.

The whole page (every group and both tables) for the last 4 weeks, this week and a custom fortnight across the
October clock change (19 October to 1 November), each for the whole service, key worker 1 (the manager's view and
their own) and the team of the staff member with the most young people, at the bench's "now". Run it with each
tree's code on the same data (or on copies, where the schema changed) and compare the files; they must be identical:
    PYTHONPATH=/tmp/before .venv/bin/python bench/dashboard_figures.py URL /tmp/before.txt
    PYTHONPATH=. .venv/bin/python bench/dashboard_figures.py URL /tmp/after.txt
    cmp /tmp/before.txt /tmp/after.txt
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import date
from pathlib import Path

from sqlalchemy import text

from bench.dashboard import NOW
from bot.keys import load_keyring
from bot.services.indicators import Scope, ScopeKind, compute_dashboard, make_period
from config.settings import Settings
from models import crypto
from models.db import create_engine, create_sessionmaker


async def write_figures(url: str, out: Path) -> None:
    """Compute the page for each period and view, and write its figures, breakdowns and table rows to out."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url="sqlite+aiosqlite:///x", data_dir=Path(tmp), secret_key="b" * 40)
        crypto.configure(load_keyring(settings))
        engine = create_engine(url)
        db = create_sessionmaker(engine)
        try:
            async with db() as session:
                team = (await session.execute(text(
                    "SELECT staff_id FROM team_members GROUP BY staff_id ORDER BY COUNT(DISTINCT young_person_id) DESC, staff_id LIMIT 1"
                ))).scalar_one()
            today = NOW.astimezone(settings.tz).date()
            periods = [
                ("4weeks", make_period("4weeks", today, settings.tz)),
                ("week", make_period("week", today, settings.tz)),
                ("fortnight", make_period("custom", today, settings.tz, date(2026, 10, 19), date(2026, 11, 1))),
            ]
            views = [
                ("service", Scope(), None), ("worker 1", Scope(ScopeKind.WORKER, 1), None),
                ("worker 1, own view", Scope(ScopeKind.WORKER, 1), 1), (f"team of {team}", Scope(ScopeKind.TEAM, team), None),
            ]
            with out.open("w") as f:
                for period_name, period in periods:
                    for view_name, scope, own in views:
                        async with db() as session:
                            board = await compute_dashboard(session, period, scope, NOW, tables=True, own=own)
                        f.write(f"##### {period_name}, {view_name}\n")
                        for group in board.groups:
                            f.writelines(f"{figure!r}\n" for figure in group.figures)
                            f.writelines(f"{breakdown!r}\n" for breakdown in group.breakdowns)
                        for table in board.tables:
                            f.write(f"TABLE {table.key} {table.columns!r}\n")
                            f.writelines(f"{row!r}\n" for row in table.rows)
        finally:
            await engine.dispose()


if __name__ == "__main__":
    asyncio.run(write_figures(sys.argv[1], Path(sys.argv[2])))
