"""Responsiveness, worked out by hand: a reply across midnight, across the October clock change,
messages while the key worker is on leave, a young person handed over mid-period, and a message
never answered.

The period is Monday 19 October to Sunday 1 November 2026 in London: week 0 is 19-25 October
(British Summer Time until 02:00 on Sunday 25th), week 1 is 26 October - 1 November (GMT).
Working hours are Monday to Friday 09:00-17:00 London time: 08:00-16:00 UTC in week 0, 09:00-17:00 UTC in week 1.
"""

from __future__ import annotations

from datetime import date

from bot.services.indicators import Scope, ScopeKind
from models import Handover, LeavePeriod, TeamMember
from tests.indicators.conftest import World, utc

FIRST, LAST = date(2026, 10, 19), date(2026, 11, 1)
NOW = utc(2026, 11, 2, 12, 0)  # Monday noon, GMT


async def build(world: World) -> dict[str, object]:
    jo, ali = await world.staff("Jo"), await world.staff("Ali")
    sam = await world.young_person("Sam", jo)
    kai = await world.young_person("Kai", ali)
    mo = await world.young_person("Mo", ali)  # Jo's until the handover on Wednesday 28th
    await world.add(
        # A: Tuesday 20th 10:00 BST. Sam writes twice (only the first starts the wait), the bot answers
        # (not a person), Jo replies at 10:30 BST: 1,800 s, in working hours, within a working day.
        world.said(sam, utc(2026, 10, 20, 9, 0)),
        world.bot(sam, utc(2026, 10, 20, 9, 0, 1)),
        world.said(sam, utc(2026, 10, 20, 9, 10)),
        world.replied(sam, jo, utc(2026, 10, 20, 9, 30)),
        # B: Friday 23rd 23:30 BST, answered Saturday 00:15 BST, across midnight: 2,700 s, out of hours.
        world.said(sam, utc(2026, 10, 23, 22, 30)),
        world.replied(sam, jo, utc(2026, 10, 23, 23, 15)),
        # C: Saturday 24th 23:00 BST, answered Sunday 25th 09:00 GMT. The clocks went back in between, so the
        # wall clock says 10 hours but Sam waited 11: 39,600 s.
        world.said(sam, utc(2026, 10, 24, 22, 0)),
        world.replied(sam, jo, utc(2026, 10, 25, 9, 0)),
        # Kai's worker Ali is on leave; Kai writes Tuesday 27th 14:00 GMT (working hours) and Jo, covering,
        # answers Thursday 29th 10:00: 158,400 s, later than Wednesday 14:00, so not within a working day.
        world.said(kai, utc(2026, 10, 27, 14, 0)),
        world.replied(kai, jo, utc(2026, 10, 29, 10, 0)),
        # Kai writes Friday 30th 16:00 GMT and nobody answers. Its working-day deadline is Monday 2nd 16:00,
        # still ahead at NOW: unanswered, but not yet late.
        world.said(kai, utc(2026, 10, 30, 16, 0)),
        # Mo: Monday 26th 10:00, Jo answers in 1,200 s; handed to Ali on Wednesday; Thursday 29th 11:00,
        # Ali answers in 300 s.
        world.said(mo, utc(2026, 10, 26, 10, 0)),
        world.replied(mo, jo, utc(2026, 10, 26, 10, 20)),
        world.said(mo, utc(2026, 10, 29, 11, 0)),
        world.replied(mo, ali, utc(2026, 10, 29, 11, 5)),
        Handover(young_person_id=mo.id, from_staff_id=jo.id, to_staff_id=ali.id, by_staff_id=jo.id, at=utc(2026, 10, 28, 12, 0)),
        LeavePeriod(
            staff_id=ali.id, cover_id=jo.id, starts_on=date(2026, 10, 27), ends_on=date(2026, 10, 29),
            created_at=utc(2026, 10, 1), cover_started_at=utc(2026, 10, 27, 0, 0), cover_ended_at=utc(2026, 10, 30, 0, 0),
        ),
    )
    return {"jo": jo, "ali": ali, "sam": sam}


async def test_first_reply_times_for_the_whole_service(world: World) -> None:
    await build(world)
    board = await world.dashboard(FIRST, LAST, NOW, only=("responsiveness",))
    f = board.figures()
    # Seven waits: A, B, C, Kai twice, Mo twice.
    assert f["responsiveness.waits"].value == 7
    assert f["responsiveness.unanswered"].value == 1
    # Answered waits sorted: 300, 1200, 1800, 2700, 39600, 158400 (n = 6).
    # Median at position 1 + 0.5 * 5 = 3.5: halfway between 1800 and 2700 = 2250.
    assert f["responsiveness.first_reply_median"].value == 2250
    # 90th percentile at 1 + 0.9 * 5 = 5.5: halfway between 39600 and 158400 = 99000.
    assert f["responsiveness.first_reply_p90"].value == 99000
    # In working hours: Mo 300, Mo 1200, A 1800, Kai 158400 (B and C came at night).
    # Median at 2.5: 1500. 90th at 1 + 0.9 * 3 = 3.7: 1800 + 0.7 * (158400 - 1800) = 111420.
    assert f["responsiveness.first_reply_median_working"].value == 1500
    assert f["responsiveness.first_reply_p90_working"].value == 111420
    # Decided: A, B, C, Mo, Mo on time, Kai's first late (Kai's second not yet due): 5 of 6 = 83.33%.
    assert f["responsiveness.within_working_day"].value == 83.33
    # Week by week: week 0 has A, B, C (median 2700, all on time);
    # week 1 has Mo 300, Mo 1200, Kai 158400 and Kai unanswered (median 1200; 2 of 3 on time).
    assert f["responsiveness.waits"].trend == (3, 4)
    assert f["responsiveness.first_reply_median"].trend == (2700, 1200)
    assert f["responsiveness.within_working_day"].trend == (100.0, 66.67)
    # The fortnight before had no messages at all: no median, not zero.
    assert f["responsiveness.waits"].previous == 0
    assert f["responsiveness.first_reply_median"].previous is None


async def test_a_young_person_moved_mid_period_counts_for_each_worker_in_turn(world: World) -> None:
    staff = await build(world)
    jo = await world.dashboard(FIRST, LAST, NOW, Scope(ScopeKind.WORKER, staff["jo"].id), only=("responsiveness",))  # type: ignore[attr-defined]
    ali = await world.dashboard(FIRST, LAST, NOW, Scope(ScopeKind.WORKER, staff["ali"].id), only=("responsiveness",))  # type: ignore[attr-defined]
    # Jo's caseload: A, B, C and Mo's first wait: 1200, 1800, 2700, 39600; median at 2.5 = 2250.
    assert jo.figures()["responsiveness.waits"].value == 4
    assert jo.figures()["responsiveness.first_reply_median"].value == 2250
    # Ali's: Kai's two (one unanswered; Jo's cover reply still counts as a reply) and Mo's second: 300 and 158400.
    assert ali.figures()["responsiveness.waits"].value == 3
    assert ali.figures()["responsiveness.first_reply_median"].value == 79350
    assert ali.figures()["responsiveness.unanswered"].value == 1


async def test_an_empty_period_has_no_figures_rather_than_zeros(world: World) -> None:
    await world.staff("Jo")
    board = await world.dashboard(FIRST, LAST, NOW, only=("responsiveness",))
    f = board.figures()
    assert f["responsiveness.waits"].value == 0
    assert f["responsiveness.first_reply_median"].value is None
    assert f["responsiveness.within_working_day"].value is None


async def test_workload_follows_the_handover_and_counts_cover(world: World) -> None:
    staff = await build(world)
    service = (await world.dashboard(FIRST, LAST, NOW, only=("workload",))).figures()
    jo = (await world.dashboard(FIRST, LAST, NOW, Scope(ScopeKind.WORKER, staff["jo"].id), only=("workload",))).figures()  # type: ignore[attr-defined]
    # At the end of week 0 (26 October 00:00) Mo is still Jo's: Jo 2 (Sam, Mo), Ali 1 (Kai): 3 / 2 = 1.5.
    # At the end of the period Jo has Sam and Ali has Kai and Mo: still 1.5 a worker, but Jo's own drops to 1.
    assert service["workload.caseload_per_worker"].trend == (1.5, 1.5)
    assert jo["workload.caseload_per_worker"].trend == (2, 1)
    # Jo sent 5 messages (A, B, C, Kai's cover reply, Mo's first), Ali 1.
    assert service["workload.messages_sent"].value == 6
    assert jo["workload.messages_sent"].value == 5
    # Jo covered Ali from 27 October 00:00 to 30 October 00:00: 3 days, all in week 1.
    assert jo["workload.cover_days"].value == 3
    assert jo["workload.cover_days"].trend == (0, 3)


async def test_the_worker_table_splits_a_moved_young_person_between_workers(world: World) -> None:
    await build(world)
    table = (await world.dashboard(FIRST, LAST, NOW, only=("none",), tables=True)).tables[0]
    rows = {row[0]: dict(zip([c.key for c in table.columns], row, strict=True)) for row in table.rows}
    # Ali: Kai and Mo at the end; Kai and Mo wrote; 3 waits (Kai twice, Mo once), answered in 300 and 158400 s.
    assert (rows["Ali"]["caseload"], rows["Ali"]["messaged"], rows["Ali"]["waits"], rows["Ali"]["first_reply_median"]) == (2, 2, 3, 79350)
    # Ali's decided waits: Kai's first (late) and Mo's (on time): 50%. Ali sent 1 message and gave no cover.
    assert (rows["Ali"]["within_working_day"], rows["Ali"]["messages_sent"], rows["Ali"]["cover_days"]) == (50.0, 1, 0)
    # Jo: Sam at the end; Sam and Mo wrote while Jo's; 4 waits with median 2250; 5 messages; 3 days' cover.
    assert (rows["Jo"]["caseload"], rows["Jo"]["messaged"], rows["Jo"]["waits"], rows["Jo"]["first_reply_median"]) == (1, 2, 4, 2250)
    assert (rows["Jo"]["within_working_day"], rows["Jo"]["messages_sent"], rows["Jo"]["cover_days"]) == (100.0, 5, 3)


async def test_a_key_workers_own_view_shows_their_row_as_their_manager_sees_it(world: World) -> None:
    staff = await build(world)
    # Ali is also on Sam's hub team from Monday 26th, so Ali has a row in the team table too.
    await world.add(TeamMember(young_person_id=staff["sam"].id, staff_id=staff["ali"].id, role="life coach", added_at=utc(2026, 10, 26)))  # type: ignore[attr-defined]
    everyone = await world.dashboard(FIRST, LAST, NOW, tables=True)
    for name in ("Jo", "Ali"):
        worker = staff[name.lower()].id  # type: ignore[attr-defined]
        scope = Scope(ScopeKind.WORKER, worker)
        # A manager looking at the worker's caseload sees every worker's row; the worker sees only their own,
        # worked out for them alone, with the same numbers, and the same figures for their caseload.
        managers = await world.dashboard(FIRST, LAST, NOW, scope, tables=True)
        own = await world.dashboard(FIRST, LAST, NOW, scope, tables=True, own=worker)
        assert own.figures() == managers.figures()
        assert [g.breakdowns for g in own.groups] == [g.breakdowns for g in managers.groups]
        for table, full in zip(own.tables, everyone.tables, strict=True):
            assert table.rows == tuple(row for row in full.rows if row[0] == name), table.key
    # Ali's rows, worked out by hand: Kai and Mo at the end, both wrote, 3 waits (median 79,350 s), 50% in a day;
    # on the team table, Sam from the 26th: 1 young person.
    ali = await world.dashboard(FIRST, LAST, NOW, Scope(ScopeKind.WORKER, staff["ali"].id), tables=True, own=staff["ali"].id)  # type: ignore[attr-defined]
    assert ali.tables[0].rows[0][:6] == ("Ali", 2, 2, 3, 79350, 50.0)
    assert ali.tables[1].rows[0][:2] == ("Ali", 1)
