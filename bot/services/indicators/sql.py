"""The SQL every indicator shares: the period's groups, the scope, durations and percentiles, per dialect.

Every figure is one aggregate query. Times and ids written into the SQL are our own values (datetimes
and integers made here, never text from a request), so they are inlined as literals: that keeps the
statements the same shape on SQLite and PostgreSQL and free of the parameter typing asyncpg needs.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.indicators.figures import PREVIOUS, TOTAL
from bot.services.indicators.period import Period, Scope, ScopeKind, working_segments

_COUNTER = itertools.count(1)
_KEY = re.compile(r"^[a-z_][a-z0-9_]{0,31}$")
MEDIAN, P90 = (1, 2), (9, 10)  # percentiles as fractions, so the index arithmetic stays in integers


class Ctx:
    """One dashboard computation: the session, period, scope and the SQL pieces that depend on the dialect."""

    def __init__(self, session: AsyncSession, period: Period, scope: Scope, now: datetime) -> None:
        self.session, self.period, self.scope, self.now = session, period, scope, now
        self.dialect = session.bind.dialect.name
        self.weeks = len(period.weeks)
        self.temps: dict[str, str] = {}

    async def temp(self, name: str, select: str, *indexes: str) -> str:
        """Materialise a query once for this computation as a temporary table (indexed); return its name."""
        if name in self.temps:
            return self.temps[name]
        table = f"kw_{name}_{next(_COUNTER)}"
        await self.session.execute(text(f"CREATE TEMPORARY TABLE {table} AS {select}"))
        for i, columns in enumerate(indexes):
            await self.session.execute(text(f"CREATE INDEX ix_{table}_{i} ON {table} ({columns})"))
        if self.dialect == "postgresql":
            await self.session.execute(text(f"ANALYZE {table}"))
        self.temps[name] = table
        return table

    async def tune(self) -> None:
        """On PostgreSQL, for this transaction: sort in memory, and skip JIT (compiling costs more than it saves here)."""
        if self.dialect == "postgresql":
            await self.session.execute(text("SET LOCAL work_mem = '64MB'"))
            await self.session.execute(text("SET LOCAL jit = off"))

    async def close(self) -> None:
        """Drop this computation's temporary tables (a pooled connection outlives the request)."""
        for table in self.temps.values():
            await self.session.execute(text(f"DROP TABLE IF EXISTS {table}"))
        self.temps.clear()

    # --- literals and expressions -------------------------------------------------------------
    def ts(self, moment: datetime) -> str:
        """Write a UTC moment as a literal comparable with stored times."""
        value = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return f"'{value}'" if self.dialect == "sqlite" else f"CAST('{value}+00' AS TIMESTAMPTZ)"

    @property
    def null_ts(self) -> str:
        return "NULL" if self.dialect == "sqlite" else "CAST(NULL AS TIMESTAMPTZ)"

    @property
    def false(self) -> str:
        return "0" if self.dialect == "sqlite" else "FALSE"

    def secs(self, a: str, b: str) -> str:
        """Seconds from a to b."""
        if self.dialect == "sqlite":
            return f"((julianday({b}) - julianday({a})) * 86400.0)"
        return f"CAST(EXTRACT(EPOCH FROM ({b} - {a})) AS DOUBLE PRECISION)"

    def json_num(self, column: str, key: str) -> str:
        """Read a number from a JSON object column."""
        if not _KEY.match(key):
            raise ValueError(f"JSON key {key!r} is not a plain identifier")
        if self.dialect == "sqlite":
            return f"CAST(json_extract({column}, '$.{key}') AS REAL)"
        return f"CAST(({column}->>'{key}') AS DOUBLE PRECISION)"

    def utc_day(self, column: str) -> str:
        return f"substr({column}, 1, 10)" if self.dialect == "sqlite" else f"CAST(({column} AT TIME ZONE 'UTC') AS DATE)"

    def day(self, iso: str) -> str:
        return f"'{iso}'" if self.dialect == "sqlite" else f"DATE '{iso}'"

    # --- common table expressions -------------------------------------------------------------
    def groups(self) -> str:
        """grp(g, gs, ge): each week of the period, the whole period, and the previous period."""
        rows = [(PREVIOUS, self.period.previous_start, self.period.start), (TOTAL, self.period.start, self.period.end)]
        rows += [(w.index, w.start, w.end) for w in self.period.weeks]
        values = ", ".join(f"({g}, {self.ts(s)}, {self.ts(e)})" for g, s, e in rows)
        return f"grp(g, gs, ge) AS (VALUES {values})"

    def segments(self) -> str:
        """seg(d, ss, se, working, shift, deadline): the working week from the previous period to now."""
        end = max(self.period.end, self.now)
        rows = working_segments(self.period.previous_start, end, self.period.tz)
        values = ", ".join(
            f"({self.day(s.day)}, {self.ts(s.start)}, {self.ts(s.end)}, {1 if s.working else 0}, "
            f"{s.shift_seconds if s.shift_seconds is not None else 'NULL'}, "
            f"{self.ts(s.deadline) if s.deadline else self.null_ts})"
            for s in rows
        )
        return f"seg(d, ss, se, working, shift, deadline) AS (VALUES {values})"

    @staticmethod
    def stints() -> str:
        """stints(young_person_id, staff_id, start_at, end_at): who was key worker when, from the handovers."""
        return (
            "stints(young_person_id, staff_id, start_at, end_at) AS ("
            "SELECT h.young_person_id, h.from_staff_id, "
            "LAG(h.at) OVER (PARTITION BY h.young_person_id ORDER BY h.at, h.id), h.at FROM handovers h "
            "UNION ALL SELECT y.id, y.key_worker_id, "
            "(SELECT MAX(h2.at) FROM handovers h2 WHERE h2.young_person_id = y.id), NULL FROM young_people y)"
        )

    def scope_ctes(self, by: str = "") -> list[str]:
        """sc(young_person_id, staff_id, start_at, end_at): who is in scope, and when (by="worker"/"team": everyone's)."""
        kind, staff = self.scope.kind, int(self.scope.staff_id or 0)
        if by == "worker":
            return [self.stints(), "sc AS (SELECT * FROM stints)"]
        if by == "team":
            return [
                "sc(young_person_id, staff_id, start_at, end_at) AS (SELECT young_person_id, staff_id, added_at, "
                "removed_at FROM team_members)"
            ]
        if kind == ScopeKind.WORKER:
            return [self.stints(), f"sc AS (SELECT * FROM stints WHERE staff_id = {staff})"]
        if kind == ScopeKind.TEAM:
            return [
                "sc(young_person_id, staff_id, start_at, end_at) AS (SELECT young_person_id, staff_id, added_at, "
                f"removed_at FROM team_members WHERE staff_id = {staff})"
            ]
        return [f"sc(young_person_id, staff_id, start_at, end_at) AS (SELECT id, key_worker_id, {self.null_ts}, {self.null_ts} FROM young_people)"]

    def with_(self, *extra: str, by: str = "") -> str:
        return "WITH " + ", ".join([self.groups(), *self.scope_ctes(by), *extra])

    @staticmethod
    def at(yp: str, moment: str) -> str:
        """Join condition: the young person was in scope at that moment."""
        return (
            f"sc.young_person_id = {yp} AND (sc.start_at IS NULL OR {moment} >= sc.start_at) "
            f"AND (sc.end_at IS NULL OR {moment} < sc.end_at)"
        )

    @staticmethod
    def during(yp: str, start: str = "grp.gs", end: str = "grp.ge") -> str:
        """Join condition: the young person was in scope at some time in [start, end)."""
        return (
            f"sc.young_person_id = {yp} AND (sc.start_at IS NULL OR sc.start_at < {end}) "
            f"AND (sc.end_at IS NULL OR sc.end_at > {start})"
        )

    def join_at(self, yp: str, moment: str, by: str = "") -> str:
        """Join sc for a young person in scope at a moment; nothing to join for the whole service."""
        if not by and self.scope.kind == ScopeKind.SERVICE:
            return ""
        return f"JOIN sc ON {self.at(yp, moment)}"

    def join_during(self, yp: str, by: str = "") -> str:
        """Join sc for a young person in scope at some time in the group's window."""
        if not by and self.scope.kind == ScopeKind.SERVICE:
            return ""
        return f"JOIN sc ON {self.during(yp)}"

    @staticmethod
    def in_group(moment: str) -> str:
        return f"{moment} >= grp.gs AND {moment} < grp.ge"

    # --- running ------------------------------------------------------------------------------
    async def rows(self, sql: str) -> Sequence[Any]:
        return (await self.session.execute(text(sql))).all()

    async def by_group(self, sql: str) -> dict[int, float | None]:
        """Run a query returning (g, value) rows; groups with no row are 0 (counts) by default."""
        return (await self.by_group_many(sql, 1))[0]

    async def by_group_many(self, sql: str, columns: int) -> list[dict[int, float | None]]:
        """Run a query returning (g, value, value...) rows: one dict by group per value column."""
        found: list[dict[int, float | None]] = [
            {g: 0.0 for g in (PREVIOUS, TOTAL, *range(self.weeks))} for _ in range(columns)
        ]
        for row in await self.rows(sql):
            for i in range(columns):
                value = row[1 + i]
                found[i][int(row[0])] = None if value is None else float(value)
        return found

    async def percentiles(self, inner: str, fractions: Sequence[tuple[int, int]] = (MEDIAN, P90)) -> list[dict[int, float | None]]:
        """Compute percentiles (as PostgreSQL's percentile_cont) of v by g, for rows (g, v) of an inner query."""
        cols = []
        for i, (num, den) in enumerate(fractions):
            k, r = f"(((n - 1) * {num}) / {den})", f"(((n - 1) * {num}) % {den})"
            cols += [
                f"MAX(CASE WHEN rn = 1 + {k} THEN v END) AS lo{i}",
                f"MAX(CASE WHEN rn = 2 + {k} THEN v END) AS hi{i}",
                f"MAX({r}) AS rem{i}",
            ]
        sql = (
            f"SELECT g, {', '.join(cols)} FROM (SELECT g, v, ROW_NUMBER() OVER (PARTITION BY g ORDER BY v) AS rn, "
            f"COUNT(*) OVER (PARTITION BY g) AS n FROM ({inner}) AS pi WHERE v IS NOT NULL) AS pr GROUP BY g"
        )
        out: list[dict[int, float | None]] = [{} for _ in fractions]
        for row in await self.rows(sql):
            for i, (_, den) in enumerate(fractions):
                lo, hi, rem = row[1 + 3 * i], row[2 + 3 * i], row[3 + 3 * i]
                value = float(lo) if not rem else float(lo) + (float(hi) - float(lo)) * int(rem) / den
                out[i][int(row[0])] = round(value, 3)
        return out
