"""The dashboard rollup job: reply waits, weekly message counts and wellbeing scores worked out once from the stored rows, up to a watermark.

Each run carries reply_waits forward from the last watermark to a few minutes before now, a span at a
time: the waits that began in the span (as responsiveness.wait_ctes defines them), and the first staff
reply for waits still open. It adds the messages since its last watermark to message_weeks the same way,
and the scores of the wellbeing responses completed since its last watermark to wellbeing_scores.
The page reads the rollup before the watermark and the raw messages after it, so its figures are the raw
queries' figures (tests/indicators/test_rollup.py holds the two together).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.scheduler import JobContext, Outcome, do_schedule_job, done
from bot.services.indicators.message_weeks import DAYS, days_cte
from bot.services.indicators.period import working_basis
from bot.services.indicators.responsiveness import on_segment, verdicts, wait_ctes
from bot.services.indicators.sql import json_pairs, segments_cte, ts_literal, utc_day_sql
from models import Job, JobState, Message, MessageWeek, ReplyWait, RollupMark, WellbeingResponse, WellbeingScore
from models.rollup import MESSAGE_WEEKS, REPLY_WAITS, WELLBEING_SCORES

log = logging.getLogger(__name__)

ROLLUP_JOB = "dashboard_rollup"
EVERY = timedelta(minutes=5)  # how often the job runs
KEEP_RUNS = timedelta(days=1)  # finished runs kept this long (288 a day), then deleted by the job itself
# The watermark stays this far behind now: a message is stored with the time its transaction began, so
# one committed a little later must still land after the watermark.
LAG = timedelta(minutes=5)
SPAN = timedelta(days=28)  # a first build (or a catch-up after a gap) goes a span at a time, to bound each sort
# A run of the job does at most this many spans (a few seconds at council scale), so it never holds up the
# jobs queued behind it for long; a long history is caught up over a few runs, the page exact meanwhile.
JOB_SPANS = 2


@dataclass(frozen=True)
class Built:
    start: datetime | None  # the watermark before this run (None: nothing was built)
    end: datetime  # the watermark now
    spans: int  # spans worked through
    waits: int  # rows added (waits, message weeks written, or scores)


async def _mark(
    session: AsyncSession, name: str, basis: str, table: type[ReplyWait] | type[MessageWeek] | type[WellbeingScore],
) -> RollupMark | None:
    """Return a rollup's watermark; if it was built on another basis (time zone, working week), empty it and return None."""
    mark = await session.get(RollupMark, name)
    if mark is not None and mark.basis != basis:
        await session.execute(delete(table))
        await session.delete(mark)
        await session.flush()
        mark = None
    return mark


async def build_reply_waits(session: AsyncSession, now: datetime, tz: ZoneInfo, *, max_spans: int | None = None) -> Built:
    """Carry reply_waits forward to LAG before now (or as far as max_spans go); running it again changes nothing.

    The caller commits. Lengths and working-day verdicts are worked out in tz and the service's working week; if those changed
    since the last run, the rollup is built again from the start.
    """
    dialect = session.bind.dialect.name
    target, basis = now - LAG, working_basis(tz)
    mark = await _mark(session, REPLY_WAITS, basis, ReplyWait)
    start = mark.built_to if mark is not None else None
    if start is not None and start >= target:
        return Built(start, start, 0, 0)
    first = await session.scalar(select(func.min(Message.created_at)))
    cursor = start if start is not None else first
    wait, on_time = verdicts(dialect, None)
    spans = added = 0
    while cursor is not None and cursor < target and (max_spans is None or spans < max_spans):
        end = min(cursor + SPAN, target)
        # Nothing should be in the span yet; clearing it first makes a rerun after a half-finished one exact.
        await session.execute(delete(ReplyWait).where(ReplyWait.asked_at >= cursor, ReplyWait.asked_at < end))
        # The very first span needs no look back: nothing was written before the first message.
        since = cursor if start is not None or spans > 0 else None
        result = await session.execute(text(
            "INSERT INTO reply_waits (message_id, young_person_id, asked_at, replied_at, seconds, working, on_time) "
            f"WITH {wait_ctes(dialect, since, end)}, {segments_cte(dialect, cursor, end, tz)} "
            f"SELECT w.message_id, w.young_person_id, w.asked_at, w.replied_at, {wait}, {_flag(dialect, 'seg.working = 1')}, "
            f"{_flag(dialect, f'({on_time}) = 1', nullable='w.replied_at')} FROM waits w JOIN seg ON {on_segment(dialect)}"
        ))
        added += max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
        spans, cursor = spans + 1, end
    built_to = cursor if cursor is not None and cursor < target else target
    # A wait still open gets the first staff message after it, if one came before the new watermark.
    found = (
        "SELECT MIN(p.created_at) FROM messages p WHERE p.young_person_id = reply_waits.young_person_id "
        "AND p.sender_kind = 'staff' AND p.created_at >= reply_waits.asked_at "
        "AND (p.created_at > reply_waits.asked_at OR p.id > reply_waits.message_id) "
        f"AND p.created_at < {ts_literal(dialect, built_to)}"
    )
    await session.execute(text(f"UPDATE reply_waits SET replied_at = ({found}) WHERE seconds IS NULL AND replied_at IS NULL"))
    # ... and its length and verdict, judged in the working-week segment it began in.
    opened = (await session.execute(text("SELECT MIN(asked_at), MAX(asked_at) FROM reply_waits WHERE seconds IS NULL AND replied_at IS NOT NULL"))).first()
    if opened is not None and opened[0] is not None:
        low, high = (_moment(v) for v in opened)
        judged = f"SELECT {{}} FROM seg WHERE {on_segment(dialect)}".replace("w.", "reply_waits.")
        reply_waits_wait = wait.replace("w.", "reply_waits.")
        reply_waits_on_time = on_time.replace("w.", "reply_waits.")
        await session.execute(text(
            f"WITH {segments_cte(dialect, low, high + timedelta(seconds=1), tz)} UPDATE reply_waits SET seconds = {reply_waits_wait}, "
            f"on_time = ({judged.format(_flag(dialect, f'({reply_waits_on_time}) = 1'))}) "
            "WHERE seconds IS NULL AND replied_at IS NOT NULL"
        ))
    await _advance(session, mark, REPLY_WAITS, basis, built_to, now)
    return Built(start, built_to, spans, added)


async def build_message_weeks(session: AsyncSession, now: datetime, tz: ZoneInfo, *, max_spans: int | None = None) -> Built:
    """Add the messages since the last watermark to message_weeks, up to LAG before now (or as far as max_spans go).

    The caller commits (the counts and the watermark together, so a run that fails adds nothing). Days and
    weeks are tz's; if the time zone changed since the last run, the counts are built again from the start.
    """
    dialect = session.bind.dialect.name
    target = now - LAG
    mark = await _mark(session, MESSAGE_WEEKS, tz.key, MessageWeek)
    start = mark.built_to if mark is not None else None
    if start is not None and start >= target:
        return Built(start, start, 0, 0)
    cursor = start if start is not None else await session.scalar(select(func.min(Message.created_at)))
    days = ", ".join(f"d{i}" for i in range(DAYS))
    counts = ", ".join(f"SUM(CASE WHEN days.dow = {i} THEN 1 ELSE 0 END)" for i in range(DAYS))
    least, greatest = ("MIN", "MAX") if dialect == "sqlite" else ("LEAST", "GREATEST")
    added = ", ".join(f"d{i} = message_weeks.d{i} + excluded.d{i}" for i in range(DAYS))
    spans = rows = 0
    while cursor is not None and cursor < target and (max_spans is None or spans < max_spans):
        end = min(cursor + SPAN, target)
        result = await session.execute(text(
            f"INSERT INTO message_weeks (young_person_id, week, sender, staff_id, {days}, first_at, last_at) "
            f"WITH {days_cte(dialect, cursor, end, tz)} "
            "SELECT m.young_person_id, days.week, m.sender_kind, "
            "CASE WHEN m.sender_kind = 'staff' THEN COALESCE(m.staff_id, 0) ELSE 0 END AS staff, "
            f"{counts}, MIN(m.created_at), MAX(m.created_at) FROM messages m "
            f"JOIN days ON days.d = {utc_day_sql(dialect, 'm.created_at')} AND m.created_at >= days.ss AND m.created_at < days.se "
            f"WHERE m.created_at >= {ts_literal(dialect, cursor)} AND m.created_at < {ts_literal(dialect, end)} "
            "AND m.sender_kind IN ('young_person', 'staff') GROUP BY m.young_person_id, days.week, m.sender_kind, staff "
            f"ON CONFLICT (young_person_id, week, sender, staff_id) DO UPDATE SET {added}, "
            f"first_at = {least}(message_weeks.first_at, excluded.first_at), last_at = {greatest}(message_weeks.last_at, excluded.last_at)"
        ))
        rows += max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
        spans, cursor = spans + 1, end
    built_to = cursor if cursor is not None and cursor < target else target
    if rows:
        await _analyse_once(session, "message_weeks")  # to read it by week
    await _advance(session, mark, MESSAGE_WEEKS, tz.key, built_to, now)
    return Built(start, built_to, spans, rows)


async def build_wellbeing_scores(session: AsyncSession, now: datetime, *, max_spans: int | None = None) -> Built:
    """Add the scores of wellbeing responses completed since the last watermark to wellbeing_scores, up to LAG before now.

    Each score gets the young person's score of that key before it, and the one before it learns when this one
    came. The caller commits; running it again changes nothing.
    """
    dialect = session.bind.dialect.name
    target = now - LAG
    mark = await _mark(session, WELLBEING_SCORES, "", WellbeingScore)
    start = mark.built_to if mark is not None else None
    if start is not None and start >= target:
        return Built(start, start, 0, 0)
    cursor = start if start is not None else await session.scalar(select(func.min(WellbeingResponse.completed_at)))
    pairs, number = json_pairs(dialect, "r.scores")
    same = (
        "{a}.young_person_id = wellbeing_scores.young_person_id AND {a}.questionnaire = wellbeing_scores.questionnaire "
        "AND {a}.key = wellbeing_scores.key"
    )
    # A young person's scores of a key are looked up by their index: SQLite would otherwise take the primary key
    # (the questionnaire, then the time) and read every score before, for each one.
    by_person = " INDEXED BY ix_wellbeing_scores_young_person" if dialect == "sqlite" else ""
    spans = rows = 0
    while cursor is not None and cursor < target and (max_spans is None or spans < max_spans):
        end = min(cursor + SPAN, target)
        low, high = ts_literal(dialect, cursor), ts_literal(dialect, end)
        in_span = f"completed_at >= {low} AND completed_at < {high}"
        # Nothing should be in the span yet; clearing it first makes a rerun after a half-finished one exact.
        await session.execute(delete(WellbeingScore).where(WellbeingScore.completed_at >= cursor, WellbeingScore.completed_at < end))
        # The span's scores in order of completion (a score that is not a number is no score, as on the page).
        result = await session.execute(text(
            "INSERT INTO wellbeing_scores (questionnaire, completed_at, response_id, key, young_person_id, value, prev_value, prev_at, next_at) "
            "SELECT q, t, rid, k, yp, v, LAG(v) OVER w, LAG(t) OVER w, LEAD(t) OVER w FROM ("
            f"SELECT r.questionnaire AS q, r.completed_at AS t, r.id AS rid, je.key AS k, r.young_person_id AS yp, {number} AS v "
            f"FROM wellbeing_responses r {pairs} WHERE r.{in_span}) AS a "
            "WHERE v IS NOT NULL WINDOW w AS (PARTITION BY yp, q, k ORDER BY t, rid)"
        ))
        added = result.rowcount  # type: ignore[attr-defined]
        rows += max(added or 0, 0)
        # Most runs find no new score and need not read the table twice (-1: the driver cannot tell, so link them).
        if added:
            # Each young person's first score of a key in the span: the one before it is their last one stored before.
            before = (
                f"(SELECT p.{{column}} FROM wellbeing_scores AS p{by_person} WHERE " + same.format(a="p") + f" AND p.completed_at < {low} "
                "ORDER BY p.completed_at DESC, p.response_id DESC LIMIT 1)"
            )
            await session.execute(text(
                f"UPDATE wellbeing_scores SET prev_value = {before.format(column='value')}, prev_at = {before.format(column='completed_at')} "
                f"WHERE {in_span} AND prev_at IS NULL"
            ))
            # ... and that last one learns when the next came.
            await session.execute(text(
                f"UPDATE wellbeing_scores SET next_at = (SELECT MIN(n.completed_at) FROM wellbeing_scores AS n{by_person} WHERE "
                + same.format(a="n") + f" AND n.completed_at >= {low} AND n.completed_at < {high}) "
                f"WHERE next_at IS NULL AND completed_at < {low} AND (young_person_id, questionnaire, key) IN "
                f"(SELECT young_person_id, questionnaire, key FROM wellbeing_scores WHERE {in_span} AND prev_at < {low})"
            ))
        spans, cursor = spans + 1, end
    built_to = cursor if cursor is not None and cursor < target else target
    if rows:
        await _analyse_once(session, "wellbeing_scores")  # to join a worker's or a team's young people to it by index
    await _advance(session, mark, WELLBEING_SCORES, "", built_to, now)
    return Built(start, built_to, spans, rows)


async def _advance(session: AsyncSession, mark: RollupMark | None, name: str, basis: str, built_to: datetime, now: datetime) -> None:
    """Move a rollup's watermark to built_to (making it, the first time), noting when the job ran."""
    if mark is None:
        session.add(RollupMark(name=name, built_to=built_to, built_at=now, basis=basis))
    else:
        mark.built_to, mark.built_at = built_to, now
    await session.flush()


async def _analyse_once(session: AsyncSession, table: str) -> None:
    """SQLite, once after a rollup's first rows: its planner needs the table's statistics to choose its plans well."""
    if session.bind.dialect.name == "sqlite" and not await _has_statistics(session, table):
        await session.execute(text(f"ANALYZE {table}"))


async def _has_statistics(session: AsyncSession, table: str) -> bool:
    """Whether SQLite's ANALYZE has been run on this table (sqlite_stat1 exists only once it was run on any)."""
    if not await session.scalar(text("SELECT COUNT(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")):
        return False
    return bool(await session.scalar(text(f"SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = '{table}'")))


def _flag(dialect: str, condition: str, nullable: str | None = None) -> str:
    """A condition as a stored boolean (NULL where the nullable column is NULL)."""
    yes, no = ("1", "0") if dialect == "sqlite" else ("TRUE", "FALSE")
    null = f"WHEN {nullable} IS NULL THEN NULL " if nullable else ""
    return f"CASE {null}WHEN {condition} THEN {yes} ELSE {no} END"


def _moment(value: object) -> datetime:
    """A time read back from a raw query: SQLite gives text, PostgreSQL an aware datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


async def plan_rollup(session: AsyncSession, now: datetime) -> None:
    """Make sure a rollup run is planned at the next EVERY mark of the clock."""
    await plan_every(session, now, ROLLUP_JOB, EVERY)


async def plan_every(session: AsyncSession, now: datetime, kind: str, every: timedelta) -> None:
    """Make sure a run of a recurring job is planned at the next mark of the clock, every `every`.

    The marks are the same for every process and restart, so however many ask, there is one run per mark.
    """
    slot = int(now.timestamp() // every.total_seconds()) + 1
    due = datetime.fromtimestamp(slot * every.total_seconds(), UTC)
    await do_schedule_job(session, now, kind=kind, key=f"{kind}:{slot}", due_at=due)


async def run_rollup(ctx: JobContext) -> Outcome:
    """Plan the next run, clear old finished runs, then carry the rollup forward.

    The next run is planned and committed on its own first, so a build that keeps failing (and runs out of
    retries) never ends the five-minute chain; the page stays exact meanwhile, only slower.
    """
    async with ctx.rt.db() as session, session.begin():
        await plan_rollup(session, ctx.now)
        await session.execute(
            delete(Job).where(Job.kind == ROLLUP_JOB, Job.state == JobState.DONE, Job.finished_at < ctx.now - KEEP_RUNS)
        )
    built = await build_reply_waits(ctx.session, ctx.now, ctx.rt.settings.tz, max_spans=JOB_SPANS)
    counted = await build_message_weeks(ctx.session, ctx.now, ctx.rt.settings.tz, max_spans=JOB_SPANS)
    scored = await build_wellbeing_scores(ctx.session, ctx.now, max_spans=JOB_SPANS)
    log.info(
        "dashboard rollup: %s waits added over %s spans, built to %s; message weeks built to %s; wellbeing scores built to %s",
        built.waits, built.spans, built.end.isoformat(), counted.end.isoformat(), scored.end.isoformat(),
    )
    return done(
        f"built to {built.end.isoformat()}: {built.waits} waits; message weeks to {counted.end.isoformat()}; "
        f"wellbeing scores to {scored.end.isoformat()}"
    )
