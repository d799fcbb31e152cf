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
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.indicators.figures import PREVIOUS, TOTAL
from bot.services.indicators.period import Period, Scope, ScopeKind, working_segments
from models.rollup import REPLY_WAITS, RollupMark

_COUNTER = itertools.count(1)
_KEY = re.compile(r"^[a-z_][a-z0-9_]{0,31}$")
MEDIAN, P90 = (1, 2), (9, 10)  # percentiles as fractions, so the index arithmetic stays in integers
_PICKS = 400  # SQLite: values read by position per statement (each a subquery; a statement has at most 2,000 columns)


def ts_literal(dialect: str, moment: datetime) -> str:
    """Write a UTC moment as a literal comparable with stored times, on SQLite or PostgreSQL."""
    value = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return f"'{value}'" if dialect == "sqlite" else f"CAST('{value}+00' AS TIMESTAMPTZ)"


def segments_cte(dialect: str, start: datetime, end: datetime, tz: ZoneInfo) -> str:
    """seg(d, ss, se, working, shift, deadline): the service's working week from start to end, as VALUES."""
    null_ts, null_shift = ("NULL", "NULL") if dialect == "sqlite" else ("CAST(NULL AS TIMESTAMPTZ)", "CAST(NULL AS DOUBLE PRECISION)")
    day = (lambda iso: f"'{iso}'") if dialect == "sqlite" else (lambda iso: f"DATE '{iso}'")
    values = ", ".join(
        f"({day(s.day)}, {ts_literal(dialect, s.start)}, {ts_literal(dialect, s.end)}, {1 if s.working else 0}, "
        f"{s.shift_seconds if s.shift_seconds is not None else null_shift}, "
        f"{ts_literal(dialect, s.deadline) if s.deadline else null_ts})"
        for s in working_segments(start, end, tz)
    )
    return f"seg(d, ss, se, working, shift, deadline) AS (VALUES {values})"


def secs_sql(dialect: str, a: str, b: str) -> str:
    """Seconds from a to b."""
    if dialect == "sqlite":
        return f"((julianday({b}) - julianday({a})) * 86400.0)"
    return f"CAST(EXTRACT(EPOCH FROM ({b} - {a})) AS DOUBLE PRECISION)"


def utc_day_sql(dialect: str, column: str) -> str:
    return f"substr({column}, 1, 10)" if dialect == "sqlite" else f"CAST(({column} AT TIME ZONE 'UTC') AS DATE)"


def json_pairs(dialect: str, column: str) -> tuple[str, str]:
    """(a join giving each key and value of a JSON object column as je.key, je.value; that value as a number)."""
    if dialect == "sqlite":
        return f"JOIN json_each({column}) AS je", "CAST(je.value AS REAL)"
    return f"CROSS JOIN LATERAL json_each_text({column}) AS je(key, value)", "CAST(je.value AS DOUBLE PRECISION)"


def _by_condition(fractions: Sequence[tuple[str, tuple[int, int]]]) -> list[tuple[int, str, list[int]]]:
    """Percentiles asked for as (condition, fraction), grouped by condition: (n, condition, their positions in fractions)."""
    conditions = dict.fromkeys(c for c, _ in fractions)
    return [(n, c, [i for i, (d, _) in enumerate(fractions) if d == c]) for n, c in enumerate(conditions)]


def filed(found: list[dict[int, float | None]], g: int, values: Sequence[Any]) -> None:
    """Put one group's values (counts, sums: one per dict of found) into found, as floats (NULL as None)."""
    for i, value in enumerate(values):
        found[i][g] = None if value is None else float(value)


def _filtered_percentiles(fractions: Sequence[tuple[str, tuple[int, int]]]) -> list[str]:
    """PostgreSQL: percentile_cont of v for each (condition, fraction), over the rows meeting the condition."""
    return [
        f"percentile_cont({num / den!r}) WITHIN GROUP (ORDER BY v) FILTER (WHERE v IS NOT NULL AND {condition})"
        for condition, (num, den) in fractions
    ]


def _picked(out: list[dict[int, float | None]], g: int, values: Sequence[Any]) -> None:
    """Put percentile_cont's values for group g into out (one dict per fraction), rounded; NULL (no rows) leaves none."""
    for i, value in enumerate(values):
        if value is not None:
            out[i][g] = round(float(value), 3)


class Ctx:
    """One dashboard computation: the session, period, scope and the SQL pieces that depend on the dialect."""

    def __init__(
        self, session: AsyncSession, period: Period, scope: Scope, now: datetime, *, rollup: bool = True, own: int | None = None,
        narrow: bool = False,
    ) -> None:
        self.session, self.period, self.scope, self.now = session, period, scope, now
        self.own = own  # the tables' rows are only this staff member's (a key worker's view): only theirs are worked out
        # Nothing computed here is about young people outside the scope (no table of every worker): what is
        # materialised for the whole computation (the waits) can hold only theirs.
        self.narrow = narrow and scope.kind != ScopeKind.SERVICE
        self.dialect = session.bind.dialect.name
        self.weeks = len(period.weeks)
        self.temps: dict[str, str] = {}
        self.rollup = rollup  # False: read only the raw rows (the tests compare the two)
        self.cache: dict[str, Any] = {}  # what this computation worked out once (watermarks, the message_weeks plan)

    async def rollup_mark(self, name: str = REPLY_WAITS) -> tuple[datetime, str] | None:
        """A rollup's watermark and basis (read once): what began before it is in that rollup (None: read raw rows only)."""
        if not self.rollup:
            return None
        key = f"mark:{name}"
        if key not in self.cache:
            row = (await self.session.execute(
                select(RollupMark.built_to, RollupMark.basis).where(RollupMark.name == name)
            )).first()
            self.cache[key] = (row[0], row[1]) if row else None
        return self.cache[key]  # type: ignore[no-any-return]

    def zeros(self) -> dict[int, float | None]:
        """A count of 0 for every window: each week, the whole period and the previous one."""
        return {g: 0.0 for g in (PREVIOUS, TOTAL, *range(self.weeks))}

    def window_list(self) -> list[tuple[int, datetime, datetime]]:
        """(g, start, end) of every window: the previous period, the whole period, and each week."""
        p = self.period
        return [(PREVIOUS, p.previous_start, p.start), (TOTAL, p.start, p.end), *((w.index, w.start, w.end) for w in p.weeks)]

    async def temp(self, name: str, select: str, *indexes: str) -> str:
        """Materialise a query once for this computation as a temporary table (indexed); return its name."""
        if name in self.temps:
            return self.temps[name]
        table = f"kw_{name}_{next(_COUNTER)}"
        await self.session.execute(text(f"CREATE TEMPORARY TABLE {table} AS {select}"))
        for i, columns in enumerate(indexes):
            await self.session.execute(text(f"CREATE INDEX ix_{table}_{i} ON {table} ({columns})"))
        if self.dialect == "postgresql" and indexes:  # statistics to choose an index by (a plain scan needs none)
            await self.session.execute(text(f"ANALYZE {table}"))
        self.temps[name] = table
        return table

    async def scratch(self, select: str, index: str = "") -> str:
        """Materialise a query as a temporary table for one step (the caller drops it), indexed if asked; return its name."""
        table = f"kw_scratch_{next(_COUNTER)}"
        await self.session.execute(text(f"CREATE TEMPORARY TABLE {table} AS {select}"))
        if index:
            await self.session.execute(text(f"CREATE INDEX ix_{table} ON {table} ({index})"))
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
        return ts_literal(self.dialect, moment)

    @property
    def null_ts(self) -> str:
        return "NULL" if self.dialect == "sqlite" else "CAST(NULL AS TIMESTAMPTZ)"

    @property
    def false(self) -> str:
        return "0" if self.dialect == "sqlite" else "FALSE"

    def secs(self, a: str, b: str) -> str:
        """Seconds from a to b."""
        return secs_sql(self.dialect, a, b)

    @staticmethod
    def json_key(key: str) -> str:
        """A JSON key to write into SQL: only plain identifiers."""
        if not _KEY.match(key):
            raise ValueError(f"JSON key {key!r} is not a plain identifier")
        return key

    def json_num(self, column: str, key: str) -> str:
        """Read a number from a JSON object column."""
        key = self.json_key(key)
        if self.dialect == "sqlite":
            return f"CAST(json_extract({column}, '$.{key}') AS REAL)"
        return f"CAST(({column}->>'{key}') AS DOUBLE PRECISION)"

    def utc_day(self, column: str) -> str:
        return utc_day_sql(self.dialect, column)

    # --- common table expressions -------------------------------------------------------------
    def groups(self) -> str:
        """grp(g, gs, ge): each week of the period, the whole period, and the previous period."""
        values = ", ".join(f"({g}, {self.ts(s)}, {self.ts(e)})" for g, s, e in self.window_list())
        # gmap: the same windows keyed by the one week (or the previous period) a moment falls in, so an event
        # joins its windows on equality (see in_group) rather than testing every window's bounds.
        mapped = [(PREVIOUS, PREVIOUS, self.period.previous_start, self.period.start)]
        for w in self.period.weeks:
            mapped += [(w.index, w.index, w.start, w.end), (w.index, TOTAL, self.period.start, self.period.end)]
        gmap = ", ".join(f"({k}, {g}, {self.ts(s)}, {self.ts(e)})" for k, g, s, e in mapped)
        return f"grp(g, gs, ge) AS (VALUES {values}), gmap(wg, g, gs, ge) AS (VALUES {gmap})"

    def segments(self) -> str:
        """seg(d, ss, se, working, shift, deadline): the working week from the previous period to now."""
        return segments_cte(self.dialect, self.period.previous_start, max(self.period.end, self.now), self.period.tz)

    @staticmethod
    def stints() -> str:
        """stints(young_person_id, staff_id, start_at, end_at): who was key worker when, from the handovers."""
        return (
            "stints(young_person_id, staff_id, start_at, end_at) AS ("
            "SELECT h.young_person_id, h.from_staff_id, "
            "LAG(h.at) OVER (PARTITION BY h.young_person_id ORDER BY h.at, h.id), h.at FROM handovers h "
            "UNION ALL SELECT y.id, y.key_worker_id, l.at, NULL FROM young_people y "
            # Each young person's last handover, grouped once and joined (a hash join), not looked up per young person.
            "LEFT JOIN (SELECT h2.young_person_id, MAX(h2.at) AS at FROM handovers h2 GROUP BY h2.young_person_id) AS l "
            "ON l.young_person_id = y.id)"
        )

    def scope_ctes(self, by: str = "") -> list[str]:
        """sc(young_person_id, staff_id, start_at, end_at): who is in scope, and when (by="worker"/"team": everyone's, or own's)."""
        # by: every worker's caseload (or team), or only own's; else the scope's one worker (or team member).
        kind, staff = (ScopeKind(by), self.own) if by else (self.scope.kind, int(self.scope.staff_id or 0))
        only = f" WHERE staff_id = {int(staff)}" if staff is not None else ""
        if kind == ScopeKind.WORKER:
            return [self.stints(), f"sc AS (SELECT * FROM stints{only})"]
        if kind == ScopeKind.TEAM:
            return [
                "sc(young_person_id, staff_id, start_at, end_at) AS (SELECT young_person_id, staff_id, added_at, "
                f"removed_at FROM team_members{only})"
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

    def windows(self, by: str = "") -> str:
        """The windows to join as grp: on PostgreSQL, gmap (a hash join) for the whole service; grp where a scope
        is joined too (PostgreSQL cannot estimate the rows of an equality on a CASE, and picks nested loops over
        the scope then), and on SQLite (it has no hash join: its nested loop tests grp's bounds faster)."""
        return "gmap" if self.dialect == "postgresql" and not by and self.scope.kind == ScopeKind.SERVICE else "grp"

    def in_group(self, moment: str, by: str = "") -> str:
        """Join condition on the windows (as grp): the moment falls in the window.

        On gmap the window is found by the moment's week (or the previous period), an equality to join on.
        """
        if self.windows(by) == "grp":
            return f"{moment} >= grp.gs AND {moment} < grp.ge"
        return (
            f"grp.wg = {self.week_of(moment)} "
            f"AND {moment} >= {self.ts(self.period.previous_start)} AND {moment} < {self.ts(self.period.end)}"
        )

    def counts(self, aggregates: Sequence[str], source: str, moment: str, yp: str, where: str = "") -> str:
        """A query of (g, value...) rows: counts and sums over the rows of source (a FROM clause) by when they happened.

        Each week's (and the previous period's) rows are added up first, in one pass with no join, then those few
        sums are added up into their windows (gmap): the same figures as joining every row to its windows, for
        aggregates that add up (COUNT and SUM only). The scope is joined to each row at its own moment, as join_at.
        """
        named = ", ".join(f"{aggregate} AS a{i}" for i, aggregate in enumerate(aggregates))
        sums = ", ".join(f"SUM(k.a{i})" for i in range(len(aggregates)))
        span = f"{moment} >= {self.ts(self.period.previous_start)} AND {moment} < {self.ts(self.period.end)}"
        return (
            f"{self.with_()} SELECT grp.g, {sums} FROM (SELECT {self.week_of(moment)} AS wk, {named} FROM {source} "
            f"{self.join_at(yp, moment)} WHERE {span}{f' AND {where}' if where else ''} GROUP BY wk) AS k "
            "JOIN gmap AS grp ON grp.wg = k.wk GROUP BY grp.g"
        )

    def week_of(self, moment: str) -> str:
        """The week of the period a moment falls in (PREVIOUS in the previous period; NULL outside both)."""
        cases = " ".join(f"WHEN {moment} < {self.ts(w.end)} THEN {w.index}" for w in self.period.weeks)
        return (
            f"CASE WHEN {moment} < {self.ts(self.period.previous_start)} THEN NULL "
            f"WHEN {moment} < {self.ts(self.period.start)} THEN {PREVIOUS} {cases} END"
        )

    # --- running ------------------------------------------------------------------------------
    async def rows(self, sql: str) -> Sequence[Any]:
        return (await self.session.execute(text(sql))).all()

    async def by_group(self, sql: str) -> dict[int, float | None]:
        """Run a query returning (g, value) rows; groups with no row are 0 (counts) by default."""
        return (await self.by_group_many(sql, 1))[0]

    async def by_group_many(self, sql: str, columns: int) -> list[dict[int, float | None]]:
        """Run a query returning (g, value, value...) rows: one dict by group per value column."""
        found = [self.zeros() for _ in range(columns)]
        for row in await self.rows(sql):
            filed(found, int(row[0]), row[1:1 + columns])
        return found

    async def summary(
        self, inner: str, counts: Sequence[str], fractions: Sequence[tuple[str, tuple[int, int]]], *, keyed: bool = False,
    ) -> tuple[list[dict[int, float | None]], list[dict[int, float | None]]]:
        """Aggregates (as by_group_many) and percentiles of v (each over the rows meeting its condition) by g.

        keyed: g is some other key (a staff id): no zeros are filled in for the period's groups.
        On PostgreSQL one pass over the rows (ordered-set aggregates with FILTER); on SQLite the rows are kept in a
        temporary table, read once for the counts and once per condition.
        """
        def blank() -> dict[int, float | None]:
            return {} if keyed else self.zeros()

        if self.dialect != "postgresql":
            # The rows once, as a temporary table: the counts and each condition's percentiles read it, not the query.
            base = await self.scratch(f"SELECT * FROM ({inner}) AS r")
            try:
                found = [blank() for _ in counts]
                for row in await self.rows(f"SELECT g, {', '.join(counts)} FROM {base} GROUP BY g"):
                    filed(found, int(row[0]), row[1:])
                out: list[dict[int, float | None]] = [{} for _ in fractions]
                for n, condition, picked in _by_condition(fractions):
                    # A partial index of the rows themselves for each condition: no copy of them to sort.
                    where = f"v IS NOT NULL AND ({condition})"
                    await self.session.execute(text(f"CREATE INDEX ix_{base}_{n} ON {base} (g, v) WHERE {where}"))
                    each = await self._by_position(base, where, [fractions[i][1] for i in picked])
                    for i, values in zip(picked, each, strict=True):
                        out[i] = values
            finally:
                await self.session.execute(text(f"DROP TABLE IF EXISTS {base}"))
            return found, out
        aggregates = _filtered_percentiles(fractions)
        found = [blank() for _ in counts]
        out = [{} for _ in fractions]
        for row in await self.rows(f"SELECT g, {', '.join([*counts, *aggregates])} FROM ({inner}) AS r GROUP BY g"):
            filed(found, int(row[0]), row[1:1 + len(counts)])
            _picked(out, int(row[0]), row[1 + len(counts):])
        return found, out

    async def week_summary(
        self, table: str, counts: Sequence[str], fractions: Sequence[tuple[str, tuple[int, int]]],
    ) -> tuple[list[dict[int, float | None]], list[dict[int, float | None]]]:
        """The whole service: summary() of a table with each row's week in wg (PREVIOUS before the period, NULL
        outside both), read in place: no copy of the rows joined to their windows, where each row of the period
        would be copied twice (its week and the whole period).

        The counts (COUNT and SUM only) are added up by week and the period's weeks summed into TOTAL. On
        PostgreSQL the percentiles are ordered-set aggregates by week (in the same pass as the counts) and over
        the period's rows; on SQLite each condition's are read by position along two partial indexes of the
        table: (wg, v) for the weeks and the previous period, (v, wg) for the period as a whole.
        """
        found = [self.zeros() for _ in counts]
        out: list[dict[int, float | None]] = [{} for _ in fractions]
        aggregates = _filtered_percentiles(fractions) if self.dialect == "postgresql" else []
        total: list[list[float | None]] = [[] for _ in counts]
        for row in await self.rows(f"SELECT wg, {', '.join([*counts, *aggregates])} FROM {table} WHERE wg IS NOT NULL GROUP BY wg"):
            filed(found, int(row[0]), row[1:1 + len(counts)])
            if int(row[0]) != PREVIOUS:
                for i in range(len(counts)):
                    total[i].append(found[i][int(row[0])])
            _picked(out, int(row[0]), row[1 + len(counts):])
        for i, values in enumerate(total):
            if values:  # as SUM over the period's rows: NULL only when every week's is
                known = [v for v in values if v is not None]
                found[i][TOTAL] = sum(known) if known else None
        if aggregates:
            _picked(out, TOTAL, (await self.rows(f"SELECT {', '.join(aggregates)} FROM {table} WHERE wg >= 0"))[0])
            return found, out
        for n, condition, picked in _by_condition(fractions):
            wanted = [fractions[i][1] for i in picked]
            # "+wg": SQLite would otherwise read the period's values along the weeks' index (a range of wg) and
            # sort them for every look-up; the unary plus keeps wg out of index choice, so the (v, wg) index is walked.
            weeks, period = f"v IS NOT NULL AND wg IS NOT NULL AND ({condition})", f"v IS NOT NULL AND +wg >= 0 AND ({condition})"
            await self.session.execute(text(f"CREATE INDEX IF NOT EXISTS ix_{table}_w{n} ON {table} (wg, v) WHERE {weeks}"))
            await self.session.execute(text(f"CREATE INDEX IF NOT EXISTS ix_{table}_p{n} ON {table} (v, wg) WHERE {period}"))
            by_week = await self._by_position(table, weeks, wanted, key="wg")
            whole = await self._by_position(table, period, wanted, key=f"CASE WHEN +wg >= 0 THEN {TOTAL} END")
            for i, a, b in zip(picked, by_week, whole, strict=True):
                out[i] = {**a, **b}
        return found, out

    async def percentiles(self, inner: str, fractions: Sequence[tuple[int, int]] = (MEDIAN, P90)) -> list[dict[int, float | None]]:
        """Compute percentiles (as PostgreSQL's percentile_cont) of v by g, for rows (g, v) of an inner query."""
        if self.dialect == "postgresql":  # the ordered-set aggregate itself: one sort per group, no window passes
            aggregates = ", ".join(f"percentile_cont({num / den!r}) WITHIN GROUP (ORDER BY v)" for num, den in fractions)
            found: list[dict[int, float | None]] = [{} for _ in fractions]
            for row in await self.rows(f"SELECT g, {aggregates} FROM ({inner}) AS pi WHERE v IS NOT NULL GROUP BY g"):
                _picked(found, int(row[0]), row[1:])
            return found
        # SQLite: the values sorted once by an index on (g, v); each percentile's neighbours are then read by
        # position (LIMIT 1 OFFSET k walks the index), rather than numbering every row with window functions.
        table = await self.scratch(f"SELECT g, v FROM ({inner}) AS pi WHERE v IS NOT NULL", "g, v")
        try:
            return await self._by_position(table, "1 = 1", fractions)
        finally:
            await self.session.execute(text(f"DROP TABLE IF EXISTS {table}"))

    async def _by_position(
        self, table: str, where: str, fractions: Sequence[tuple[int, int]], key: str = "g",
    ) -> list[dict[int, float | None]]:
        """SQLite: percentiles of v by key (g) over the rows of table meeting where, read by position along an index on (key, v) for them."""
        places: list[tuple[int, int, int, int]] = []  # (g, fraction, offset of the lower neighbour, remainder)
        for g, n in await self.rows(f"SELECT {key} AS k, COUNT(*) FROM {table} WHERE {where} GROUP BY k"):
            for i, (num, den) in enumerate(fractions):
                places.append((int(g), i, ((int(n) - 1) * num) // den, ((int(n) - 1) * num) % den))
        wanted = sorted({(g, k + step) for g, _, k, rem in places for step in ((0, 1) if rem else (0,))})
        at: dict[tuple[int, int], float] = {}
        for start in range(0, len(wanted), _PICKS):
            chunk = wanted[start:start + _PICKS]
            picks = ", ".join(f"(SELECT v FROM {table} WHERE {where} AND {key} = {g} ORDER BY v LIMIT 1 OFFSET {k})" for g, k in chunk)
            row = (await self.rows(f"SELECT {picks}"))[0]
            at.update({key: float(value) for key, value in zip(chunk, row, strict=True)})
        out: list[dict[int, float | None]] = [{} for _ in fractions]
        for g, i, k, rem in places:
            lo = at[(g, k)]
            value = lo if not rem else lo + (at[(g, k + 1)] - lo) * rem / fractions[i][1]
            out[i][g] = round(value, 3)
        return out
