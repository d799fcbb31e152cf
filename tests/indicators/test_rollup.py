"""The rollup gives exactly the figures the raw rows give, wherever its watermark falls; its job is idempotent
and catches up after a gap.

The worlds are the hand-built ones of test_responsiveness.py (a reply across midnight and across the
October clock change, messages while the key worker is on leave, a young person handed over mid-period,
a message never answered) and test_engagement.py (check-ins, appointments, wellbeing, alerts never
acknowledged, missing episodes, teams). Each dashboard is computed twice, reading the rollup and reading
raw rows only, for every group, both tables and several scopes: the two must be equal, figure for figure.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from bot.clock import FrozenClock
from bot.services.indicators import Dashboard, Scope, ScopeKind, compute_dashboard, make_period
from bot.services.indicators import rollup
from bot.services.indicators.rollup import LAG, ROLLUP_JOB, build_reply_waits, plan_rollup
from models import Job, JobState, ReplyWait, RollupMark
from tests.conftest import Service
from tests.indicators import test_engagement, test_responsiveness
from tests.indicators.conftest import LONDON, World, utc


async def build_to(world: World, now: datetime) -> None:
    """Run the rollup job as it would run at now (its watermark is LAG earlier)."""
    async with world.db() as session:
        await build_reply_waits(session, now, LONDON)
        await session.commit()


async def both(world: World, first: object, last: object, now: datetime, scope: Scope) -> tuple[Dashboard, Dashboard]:
    period = make_period("custom", first, LONDON, first, last)  # type: ignore[arg-type]
    async with world.db() as session:
        rolled = await compute_dashboard(session, period, scope, now, tables=True, own=scope.staff_id)
        raw = await compute_dashboard(session, period, scope, now, tables=True, own=scope.staff_id, rollup=False)
    return rolled, raw


def assert_same(rolled: Dashboard, raw: Dashboard) -> None:
    assert rolled.figures() == raw.figures()
    assert [g.breakdowns for g in rolled.groups] == [g.breakdowns for g in raw.groups]
    assert rolled.tables == raw.tables


async def waits(world: World) -> list[tuple[object, ...]]:
    async with world.db() as session:
        rows = await session.execute(
            select(ReplyWait.message_id, ReplyWait.asked_at, ReplyWait.replied_at, ReplyWait.seconds, ReplyWait.working, ReplyWait.on_time)
            .order_by(ReplyWait.message_id)
        )
        return [tuple(r) for r in rows]


# Job runs (the watermark is 5 minutes before each): before anything happened; between Kai's Tuesday message
# and Jo's Thursday answer (and at Mo's handover); between the Saturday message and the answer after the
# clock change; and after everything, at the moment the page is computed.
RESPONSIVENESS_RUNS = (
    utc(2026, 10, 1, 0, 0),
    utc(2026, 10, 25, 2, 30),
    utc(2026, 10, 28, 12, 5),
    test_responsiveness.NOW,
)


async def test_the_rollup_gives_the_raw_figures_wherever_its_watermark_falls(world: World) -> None:
    people = await test_responsiveness.build(world)
    jo, ali = people["jo"], people["ali"]
    scopes = (Scope(), Scope(ScopeKind.WORKER, jo.id), Scope(ScopeKind.WORKER, ali.id))  # type: ignore[attr-defined]
    for run in RESPONSIVENESS_RUNS:
        await build_to(world, run)
        for scope in scopes:
            rolled, raw = await both(world, test_responsiveness.FIRST, test_responsiveness.LAST, test_responsiveness.NOW, scope)
            assert_same(rolled, raw)
    # And the figures are still the worked-out ones: seven waits, one unanswered, median 2,250 s.
    rolled, _ = await both(world, test_responsiveness.FIRST, test_responsiveness.LAST, test_responsiveness.NOW, Scope())
    f = rolled.figures()
    assert (f["responsiveness.waits"].value, f["responsiveness.unanswered"].value) == (7, 1)
    assert f["responsiveness.first_reply_median"].value == 2250
    assert f["responsiveness.first_reply_p90_working"].value == 111420
    assert f["responsiveness.within_working_day"].value == 83.33


async def test_a_page_for_a_moment_before_the_watermark_still_gives_the_raw_figures(world: World) -> None:
    await test_responsiveness.build(world)
    await build_to(world, utc(2026, 12, 1, 0, 0))
    # On Thursday 29th at 09:00, Kai's Tuesday message was unanswered and past its working-day deadline.
    for now in (utc(2026, 10, 29, 9, 0), utc(2026, 10, 30, 16, 30)):
        rolled, raw = await both(world, test_responsiveness.FIRST, test_responsiveness.LAST, now, Scope())
        assert_same(rolled, raw)


async def test_the_rollup_gives_the_raw_figures_for_every_engagement_indicator(world: World) -> None:
    people = await test_engagement.build(world)
    for run in (utc(2026, 11, 9, 12, 0), test_engagement.NOW):
        await build_to(world, run)
        scopes = [Scope()] + [Scope(ScopeKind.WORKER, p.id) for p in people.values() if hasattr(p, "role")]  # type: ignore[attr-defined]
        scopes += [Scope(ScopeKind.TEAM, p.id) for p in people.values() if hasattr(p, "role")]  # type: ignore[attr-defined]
        for scope in scopes:
            rolled, raw = await both(world, test_engagement.FIRST, test_engagement.LAST, test_engagement.NOW, scope)
            assert_same(rolled, raw)


async def test_running_the_job_again_changes_nothing(world: World) -> None:
    await test_responsiveness.build(world)
    await build_to(world, utc(2026, 10, 28, 12, 5))
    first = await waits(world)
    async with world.db() as session:
        mark = await session.get(RollupMark, "reply_waits")
        assert mark is not None and mark.built_to == utc(2026, 10, 28, 12, 5) - LAG
    await build_to(world, utc(2026, 10, 28, 12, 5))
    assert await waits(world) == first
    # Kai's Tuesday message waits, unanswered as far as the rollup knows; Mo's Monday one was answered in 1,200 s.
    assert [(r[2], r[3]) for r in first if r[1] == utc(2026, 10, 27, 14, 0)] == [(None, None)]
    # (SQLite works seconds out from Julian days: good to a millisecond.)
    assert [(round(r[3], 3), r[4], r[5]) for r in first if r[1] == utc(2026, 10, 26, 10, 0)] == [(1200.0, True, True)]


async def test_the_job_catches_up_after_a_gap_as_if_built_in_one_go(world: World) -> None:
    await test_responsiveness.build(world)
    # A run early on, then nothing for seven weeks (two 28-day spans), then runs doing one span each.
    await build_to(world, utc(2026, 10, 21, 0, 0))
    later = utc(2026, 12, 9, 0, 0)
    async with world.db() as session:
        built = await build_reply_waits(session, later, LONDON, max_spans=1)
        await session.commit()
    # Half caught up: the watermark is 28 days on, and the page is still exact.
    assert (built.spans, built.end) == (1, utc(2026, 10, 21, 0, 0) - LAG + timedelta(days=28))
    rolled, raw = await both(world, test_responsiveness.FIRST, test_responsiveness.LAST, test_responsiveness.NOW, Scope())
    assert_same(rolled, raw)
    async with world.db() as session:
        built = await build_reply_waits(session, later, LONDON, max_spans=1)
        await session.commit()
    assert (built.spans, built.end) == (1, later - LAG)
    caught_up = await waits(world)
    async with world.db() as session:
        await session.execute(delete(ReplyWait))
        await session.execute(delete(RollupMark))
        await session.commit()
    await build_to(world, later)
    assert await waits(world) == caught_up
    # Kai's Tuesday wait got Jo's Thursday answer when the job caught up: 158,400 s, not within a working day.
    assert [(round(r[3], 3), r[5]) for r in caught_up if r[1] == utc(2026, 10, 27, 14, 0)] == [(158400.0, False)]
    assert len(caught_up) == 7


async def test_the_scheduler_runs_the_job_and_it_plans_the_next_run(service: Service, clock: FrozenClock) -> None:
    now = service.rt.now()
    async with service.rt.db() as session:
        await plan_rollup(session, now)
        await plan_rollup(session, now + timedelta(seconds=30))  # another process asking in the same slot
        await session.commit()
    async with service.rt.db() as session:
        (job,) = (await session.scalars(select(Job).where(Job.kind == ROLLUP_JOB))).all()
    # Planned at the next 5-minute mark of the clock.
    assert job.due_at > now and job.due_at - now <= timedelta(minutes=5) and job.due_at.timestamp() % 300 == 0
    clock.set(job.due_at)
    await service.run_jobs()
    async with service.rt.db() as session:
        ran = await session.get(Job, job.id)
        assert ran is not None and ran.state == JobState.DONE
        mark = await session.get(RollupMark, "reply_waits")
        assert mark is not None and mark.built_to == job.due_at - LAG
        pending = (await session.scalars(select(Job).where(Job.kind == ROLLUP_JOB, Job.state == JobState.PENDING))).all()
    assert [p.due_at for p in pending] == [job.due_at + timedelta(minutes=5)]


async def test_a_failing_build_never_ends_the_chain_and_old_runs_are_cleared(
    service: Service, clock: FrozenClock, monkeypatch
) -> None:
    async with service.rt.db() as session:
        await plan_rollup(session, service.rt.now())
        await session.commit()
    # A day and a half of runs: each plans the next and the runs over a day old are deleted.
    for _ in range(int(36 * 60 / 5)):
        async with service.rt.db() as session:
            due = await session.scalar(select(Job.due_at).where(Job.kind == ROLLUP_JOB, Job.state == JobState.PENDING))
        clock.set(due)
        await service.run_jobs()
    async with service.rt.db() as session:
        finished = (await session.scalars(select(Job.finished_at).where(Job.kind == ROLLUP_JOB, Job.state == JobState.DONE))).all()
    assert 280 <= len(finished) <= 290 and min(finished) >= service.rt.now() - timedelta(days=1, minutes=5)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the build went wrong")

    monkeypatch.setattr(rollup, "build_reply_waits", broken)
    failed: list[Job] = []
    for _ in range(4 * service.rt.scheduler.max_attempts):  # every run and every retry fails
        async with service.rt.db() as session:
            clock.set(await session.scalar(select(func.min(Job.due_at)).where(Job.kind == ROLLUP_JOB, Job.state == JobState.PENDING)))
        await service.run_jobs()
        async with service.rt.db() as session:
            failed = list((await session.scalars(select(Job).where(Job.kind == ROLLUP_JOB, Job.state == JobState.FAILED))).all())
            pending = (await session.scalars(select(Job).where(Job.kind == ROLLUP_JOB, Job.state == JobState.PENDING))).all()
        if failed:
            break
    # A run gave up after its retries, yet a later run is still planned.
    assert failed and pending and max(p.due_at for p in pending) > failed[0].finished_at
