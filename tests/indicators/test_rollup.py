"""The rollup gives exactly the figures the raw rows give, wherever its watermark falls; its job is idempotent
and catches up after a gap.

The worlds are the hand-built ones of test_responsiveness.py (a reply across midnight and across the
October clock change, messages while the key worker is on leave, a young person handed over mid-period,
a message never answered) and test_engagement.py (check-ins, appointments, wellbeing, alerts never
acknowledged, missing episodes, teams). Each dashboard is computed twice, reading the rollup and reading
raw rows only, for every group, both tables and several scopes: the two must be equal, figure for figure.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, select

from bot.clock import FrozenClock
from bot.services.indicators import Dashboard, Scope, ScopeKind, compute_dashboard, make_period
from bot.services.indicators import rollup
from bot.services.indicators.rollup import LAG, ROLLUP_JOB, build_message_weeks, build_reply_waits, build_wellbeing_scores, plan_rollup
from bot.services.data_rights import do_erase_young_person
from models import Handover, Job, JobState, ReplyWait, RollupMark, TeamMember, WellbeingScore, YoungPerson
from tests.conftest import Service
from tests.indicators import test_engagement, test_responsiveness
from tests.indicators.conftest import LONDON, World, utc


async def build_to(world: World, now: datetime) -> None:
    """Run the rollup job as it would run at now (its watermark is LAG earlier)."""
    async with world.db() as session:
        await build_reply_waits(session, now, LONDON)
        await build_message_weeks(session, now, LONDON)
        await build_wellbeing_scores(session, now)
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


# Messages counted by week (message_weeks): Monday 2 to Sunday 15 November 2026 (GMT), the previous period
# 19 October to 1 November. Sam (Jo's) writes on the 2nd and late on the 3rd; Mo writes on Tuesday 10th as
# Jo's and on Thursday 12th as Ali's (handed over on Wednesday 11th at noon, so his week is cut); Kai (Ali's)
# writes on 26 October and ten minutes before the period ends; Lee (Ali's) writes on the 4th, and is later erased.
MESSAGES_FIRST, MESSAGES_LAST = date(2026, 11, 2), date(2026, 11, 15)
MESSAGES_NOW = utc(2026, 11, 16, 9, 0)
# Job runs: mid-morning on the day of the handover, five minutes before Kai's last message (the watermark falls
# in the same day, so that day is half from the rollup, half raw), and on the morning the page is computed.
MESSAGES_RUNS = (utc(2026, 11, 11, 11, 0), utc(2026, 11, 15, 23, 50), MESSAGES_NOW)


async def messages_world(world: World) -> dict[str, object]:
    jo, ali = await world.staff("Jo"), await world.staff("Ali")
    sam = await world.young_person("Sam", jo)
    mo = await world.young_person("Mo", ali)
    kai = await world.young_person("Kai", ali)
    lee = await world.young_person("Lee", ali)
    await world.add(
        world.said(sam, utc(2026, 11, 2, 10, 0)), world.replied(sam, jo, utc(2026, 11, 3, 9, 0)),
        world.said(sam, utc(2026, 11, 3, 23, 30)),
        world.said(mo, utc(2026, 11, 10, 9, 0)), world.replied(mo, jo, utc(2026, 11, 10, 9, 30)),
        world.said(mo, utc(2026, 11, 12, 15, 0)), world.replied(mo, ali, utc(2026, 11, 12, 15, 5)),
        world.said(kai, utc(2026, 10, 26, 12, 0)), world.said(kai, utc(2026, 11, 15, 23, 50)),
        world.said(lee, utc(2026, 11, 4, 12, 0)), world.replied(lee, ali, utc(2026, 11, 4, 13, 0)),
        Handover(young_person_id=mo.id, from_staff_id=jo.id, to_staff_id=ali.id, by_staff_id=jo.id, at=utc(2026, 11, 11, 12, 0)),
        TeamMember(young_person_id=sam.id, staff_id=ali.id, role="life coach", added_at=utc(2026, 11, 3, 12, 0)),
    )
    return {"jo": jo, "ali": ali, "lee": lee}


def message_figures(board: Dashboard) -> tuple[object, ...]:
    f = board.figures()
    workers = {row[0]: (row[2], row[10]) for row in board.tables[0].rows}  # (young people who wrote, messages sent)
    return f["reach.messaged"].value, f["reach.messaged"].previous, f["reach.messaged"].trend, f["workload.messages_sent"].value, workers


async def test_message_counts_from_the_rollup_are_the_raw_counts_wherever_the_watermark_falls(world: World) -> None:
    people = await messages_world(world)
    jo, ali = people["jo"], people["ali"]
    scopes = (Scope(), Scope(ScopeKind.WORKER, jo.id), Scope(ScopeKind.WORKER, ali.id), Scope(ScopeKind.TEAM, ali.id))  # type: ignore[attr-defined]
    for run in MESSAGES_RUNS:
        await build_to(world, run)
        for now in (run, MESSAGES_NOW):
            for scope in scopes:
                rolled, raw = await both(world, MESSAGES_FIRST, MESSAGES_LAST, now, scope)
                assert_same(rolled, raw)
                # Part-weeks: Wednesday 4th to Thursday 12th (and the nine days before), days of a rolled-up week.
                rolled, raw = await both(world, date(2026, 11, 4), date(2026, 11, 12), now, scope)
                assert_same(rolled, raw)
    rolled, _ = await both(world, date(2026, 11, 4), date(2026, 11, 12), MESSAGES_NOW, Scope())
    # Lee on the 4th, Mo on the 10th and 12th; before (26 October to 3 November), Kai and Sam.
    assert message_figures(rolled)[:4] == (2, 2, (1, 1), 3)
    rolled, _ = await both(world, MESSAGES_FIRST, MESSAGES_LAST, MESSAGES_NOW, Scope())
    # Sam, Mo, Kai and Lee wrote (Kai in both periods); staff sent 4. Jo had Sam and Mo (as his, on the 10th)
    # write, and sent 2; Ali had Mo (on the 12th), Kai and Lee, and sent 2.
    assert message_figures(rolled) == (4, 1, (2, 2), 4, {"Ali": (3, 2), "Jo": (2, 2)})
    rolled, _ = await both(world, MESSAGES_FIRST, MESSAGES_LAST, MESSAGES_NOW, Scope(ScopeKind.WORKER, jo.id))  # type: ignore[attr-defined]
    assert message_figures(rolled)[:4] == (2, 0, (1, 1), 2)
    # On Sam's team from the 3rd at noon, Ali saw only his late message that day.
    rolled, _ = await both(world, MESSAGES_FIRST, MESSAGES_LAST, MESSAGES_NOW, Scope(ScopeKind.TEAM, ali.id))  # type: ignore[attr-defined]
    assert message_figures(rolled)[:3] == (1, 0, (1, 0))


async def test_erasing_a_young_person_takes_their_messages_out_of_the_rolled_up_counts(world: World) -> None:
    people = await messages_world(world)
    await build_to(world, MESSAGES_NOW)
    async with world.db() as session:
        lee = await session.get(YoungPerson, people["lee"].id)  # type: ignore[attr-defined]
        assert lee is not None
        await do_erase_young_person(session, MESSAGES_NOW, lee, mode="delete", via="test")
        await session.commit()
    await build_to(world, MESSAGES_NOW + timedelta(minutes=5))
    rolled, raw = await both(world, MESSAGES_FIRST, MESSAGES_LAST, MESSAGES_NOW, Scope())
    assert_same(rolled, raw)
    # Lee and Ali's answer to Lee are gone from the figures as from the messages.
    assert message_figures(rolled) == (3, 1, (1, 2), 3, {"Ali": (2, 1), "Jo": (2, 2)})


# Job runs for the wellbeing scores: before any; on 15 October (Sam's first two responses); inside the period
# (the page then reads the responses: the rollup does not reach its end); and after the period, twice.
SCORES_RUNS = (utc(2026, 9, 1), utc(2026, 10, 15), utc(2026, 11, 9, 12, 0), utc(2026, 11, 16, 0, 5), utc(2026, 12, 20))


async def scores(world: World) -> list[tuple[object, ...]]:
    async with world.db() as session:
        rows = await session.execute(
            select(WellbeingScore.key, WellbeingScore.completed_at, WellbeingScore.value, WellbeingScore.prev_value,
                   WellbeingScore.prev_at, WellbeingScore.next_at).order_by(WellbeingScore.key, WellbeingScore.completed_at)
        )
        return [tuple(r) for r in rows]


async def test_wellbeing_scores_from_the_rollup_are_the_raw_scores_wherever_the_watermark_falls(world: World) -> None:
    people = await test_engagement.scores_world(world)
    jo, ali = people["jo"], people["ali"]
    scopes = (Scope(), Scope(ScopeKind.WORKER, jo.id), Scope(ScopeKind.WORKER, ali.id), Scope(ScopeKind.TEAM, ali.id))  # type: ignore[attr-defined]
    page_at = utc(2026, 12, 21)
    for run in SCORES_RUNS:
        await build_to(world, run)
        for now in (test_engagement.NOW, page_at):
            for scope in scopes:
                rolled, raw = await both(world, test_engagement.FIRST, test_engagement.LAST, now, scope)
                assert_same(rolled, raw)
    # Built over three runs (the middle one over two spans), each score knows the ones either side of it, as in one go:
    # mood 5 (1 Oct), 3 (20 Oct), 2 (3 Nov), 4 (10 Nov); sleep 1 (10 Oct), 3 (10 Nov). The 10 October response's
    # mood was no score, so it is no link in the chain.
    oct1, oct10, oct20, nov3, nov10 = utc(2026, 10, 1, 12), utc(2026, 10, 10, 12), utc(2026, 10, 20, 12), utc(2026, 11, 3, 12), utc(2026, 11, 10, 12)
    assert await scores(world) == [
        ("mood", oct1, 5, None, None, oct20), ("mood", oct20, 3, 5, oct1, nov3), ("mood", nov3, 2, 3, oct20, nov10),
        ("mood", nov10, 4, 2, nov3, None), ("sleep", oct10, 1, None, None, nov10), ("sleep", nov10, 3, 1, oct10, None),
    ]
    # And the page read from them gives the figures worked out by hand.
    await test_engagement.check_scores(world, people, page_at)


async def test_erasing_a_young_person_takes_their_rolled_up_scores_with_them(world: World) -> None:
    people = await test_engagement.scores_world(world)
    await build_to(world, utc(2026, 12, 20))
    async with world.db() as session:
        sam = await session.get(YoungPerson, people["sam"].id)  # type: ignore[attr-defined]
        assert sam is not None
        await do_erase_young_person(session, utc(2026, 12, 20), sam, mode="delete", via="test")
        await session.commit()
    assert await scores(world) == []
    rolled, raw = await both(world, test_engagement.FIRST, test_engagement.LAST, utc(2026, 12, 21), Scope())
    assert_same(rolled, raw)
    assert rolled.figures()["wellbeing.feelings.mood.average"].value is None


async def test_groups_computed_side_by_side_give_the_figures_computed_one_after_another(world: World) -> None:
    # On PostgreSQL the page computes its groups on several connections reading one snapshot; on SQLite, in turn.
    people = await test_engagement.build(world)
    await build_to(world, test_engagement.NOW)
    period = make_period("custom", test_engagement.FIRST, LONDON, test_engagement.FIRST, test_engagement.LAST)
    for scope in (Scope(), Scope(ScopeKind.WORKER, people["jo"].id)):  # type: ignore[attr-defined]
        async with world.db() as session:
            side_by_side = await compute_dashboard(session, period, scope, test_engagement.NOW, tables=True)
            in_turn = await compute_dashboard(session, period, scope, test_engagement.NOW, tables=True, concurrent=False)
        assert_same(side_by_side, in_turn)
        assert [g.key for g in side_by_side.groups] == [g.key for g in in_turn.groups] and len(side_by_side.groups) == 9
