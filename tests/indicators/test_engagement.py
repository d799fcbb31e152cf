"""Check-ins, appointments, the young person's voice, safeguarding and outcomes, worked out by hand.

The period is Monday 2 to Sunday 15 November 2026 (GMT all through): week 0 is 2-8 November,
week 1 is 9-15 November; the previous period is 19 October to 1 November.
NOW is Sunday 15 November 23:55, five minutes before the period ends.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from bot.services.data_rights import do_erase_young_person
from bot.services.indicators import Scope, ScopeKind
from models import (
    Alert,
    Appointment,
    AppointmentStatus,
    ChannelLink,
    Handover,
    CheckIn,
    CheckInSource,
    Job,
    JobState,
    MissingEpisode,
    PlacementMove,
    WellbeingAnswer,
    WellbeingResponse,
    YoungPerson,
)
from tests.indicators.conftest import World, utc

FIRST, LAST = date(2026, 11, 2), date(2026, 11, 15)
NOW = utc(2026, 11, 15, 23, 55)


def checkin(person_id: int, day: int, month: int = 11, *, answered: bool = False, missed: bool = False, answer: str = "mood") -> CheckIn:
    sent = utc(2026, month, day, 9, 0)
    return CheckIn(
        young_person_id=person_id, source=CheckInSource.SCHEDULED, sent_at=sent,
        answered_at=utc(2026, month, day, 9, 30) if answered else None, answer=answer if answered else None,
        missed=missed, missed_at=utc(2026, month, day, 18, 0) if missed else None,
    )


def appointment(
    person_id: int, by: int, day: int, status: AppointmentStatus, answer: str | None = None, *, reminded: bool = False,
) -> Appointment:
    at = utc(2026, 11, day, 14, 0)
    return Appointment(
        young_person_id=person_id, created_by_id=by, what="Dentist", starts_at=at, status=status, answer=answer,
        reminder_sent=reminded, created_at=utc(2026, 10, 1), updated_at=utc(2026, 10, 1),
    )


def reminder(person_id: int, appointment_id: int, state: JobState) -> Job:
    return Job(
        kind="appointment_reminder", key=f"appt:{appointment_id}:r1:1d@18:00", young_person_id=person_id,
        due_at=utc(2026, 11, 2, 18, 0), state=state, payload={"appointment_id": appointment_id, "revision": 1},
        created_at=utc(2026, 10, 1),
    )


def response(person_id: int, questionnaire: str, at: object, scores: dict[str, float]) -> WellbeingResponse:
    return WellbeingResponse(
        young_person_id=person_id, questionnaire=questionnaire, language="en", trigger="scheduled", status="complete",
        started_at=at, updated_at=at, completed_at=at, scores=scores,
    )


async def build(world: World) -> dict[str, object]:
    jo, ali = await world.staff("Jo"), await world.staff("Ali")
    sam = await world.young_person("Sam", jo, linked_at=utc(2026, 10, 1))
    kai = await world.young_person("Kai", ali, linked_at=utc(2026, 11, 9), opted_out_at=utc(2026, 11, 10, 12, 0))
    mo = await world.young_person("Mo", jo, linked_at=utc(2026, 10, 1))
    await world.young_person("Lee", jo, created_at=utc(2026, 11, 12))  # joins in week 1
    await world.young_person("Zed", ali, left_service_at=utc(2026, 10, 20))  # gone before the period
    a1, a2, a3, a4, a5 = (
        appointment(sam.id, jo.id, 3, AppointmentStatus.ATTENDED, "yes", reminded=True),  # its reminder went (job below)
        appointment(sam.id, jo.id, 5, AppointmentStatus.MISSED),
        appointment(kai.id, ali.id, 10, AppointmentStatus.CANCELLED),
        appointment(kai.id, ali.id, 12, AppointmentStatus.ATTENDED),
        appointment(kai.id, ali.id, 20, AppointmentStatus.SCHEDULED),  # after the period
    )
    await world.add(a1, a2, a3, a4, a5)
    listened = [response(p.id, "listened", utc(2026, 11, d, 12, 0), {}) for p, d in ((sam, 3), (kai, 4), (mo, 10), (mo, 11))]
    await world.add(*listened)
    await world.add(
        # Sam: missed 30 Oct (previous period), missed 2 and 3 Nov (the 3rd in a row), answered 4 Nov;
        # missed 10 and 11, paused 12 (neither: it does not end the run), missed 13 (the 3rd again).
        checkin(sam.id, 30, 10, missed=True), checkin(sam.id, 2, missed=True), checkin(sam.id, 3, missed=True),
        checkin(sam.id, 4, answered=True), checkin(sam.id, 10, missed=True), checkin(sam.id, 11, missed=True),
        checkin(sam.id, 12), checkin(sam.id, 13, missed=True),
        # Kai answers both, the second with good news.
        checkin(kai.id, 5, answered=True), checkin(kai.id, 6, answered=True, answer="good_news"),
        reminder(sam.id, a1.id, JobState.DONE), reminder(sam.id, a2.id, JobState.DROPPED),
        # Listened-to answers: Sam yes (2), Kai a bit (1), Mo no (0), Mo skipped the next one.
        WellbeingAnswer(response_id=listened[0].id, question="listened", position=1, value=2, answered_at=utc(2026, 11, 3, 12, 1)),
        WellbeingAnswer(response_id=listened[1].id, question="listened", position=1, value=1, answered_at=utc(2026, 11, 4, 12, 1)),
        WellbeingAnswer(response_id=listened[2].id, question="listened", position=1, value=0, answered_at=utc(2026, 11, 10, 12, 1)),
        WellbeingAnswer(response_id=listened[3].id, question="listened", position=1, skipped=True, answered_at=utc(2026, 11, 11, 12, 1)),
        # Mood (higher is better): Sam 4 on 25 Oct, 3 on 3 Nov, 2 on 10 Nov; Kai 2 on 4 Nov, 4 on 12 Nov.
        response(sam.id, "feelings", utc(2026, 10, 25, 12, 0), {"mood": 4}),
        response(sam.id, "feelings", utc(2026, 11, 3, 12, 0), {"mood": 3}),
        response(sam.id, "feelings", utc(2026, 11, 10, 12, 0), {"mood": 2}),
        response(kai.id, "feelings", utc(2026, 11, 4, 12, 0), {"mood": 2}),
        response(kai.id, "feelings", utc(2026, 11, 12, 12, 0), {"mood": 4}),
        # Alerts: acknowledged in 5 and 30 minutes; one never; one raised 5 minutes before NOW.
        Alert(young_person_id=sam.id, level="urgent", categories=["self_harm"], source="message", raised_at=utc(2026, 11, 3, 10, 0),
              acknowledged_at=utc(2026, 11, 3, 10, 5)),
        Alert(young_person_id=kai.id, level="concern", categories=["bullying"], source="message", raised_at=utc(2026, 11, 4, 22, 0),
              acknowledged_at=utc(2026, 11, 4, 22, 30), escalations=2),
        Alert(young_person_id=mo.id, level="urgent", categories=["self_harm", "missing"], source="message",
              raised_at=utc(2026, 11, 10, 9, 0), escalations=5),
        Alert(young_person_id=mo.id, level="urgent", categories=[], source="not_ok", raised_at=utc(2026, 11, 15, 23, 50)),
        # Missing: Sam, first contact after 90 minutes; Mo, not heard from yet.
        MissingEpisode(young_person_id=sam.id, started_at=utc(2026, 11, 2, 20, 0), first_contact_at=utc(2026, 11, 2, 21, 30),
                       ended_at=utc(2026, 11, 3, 8, 0)),
        MissingEpisode(young_person_id=mo.id, started_at=utc(2026, 11, 9, 18, 0)),
        PlacementMove(young_person_id=mo.id, moved_at=utc(2026, 11, 10, 12, 0), recorded_by_id=jo.id, created_at=utc(2026, 11, 10, 13, 0)),
        # Mo's only channel has been blocked since 1 November.
        ChannelLink(young_person_id=mo.id, kind="telegram", address="42", status="unreachable",
                    unreachable_since=utc(2026, 11, 1, 0, 0), linked_at=utc(2026, 10, 1)),
        world.said(sam, utc(2026, 11, 3, 11, 0)),
        world.replied(sam, jo, utc(2026, 11, 3, 11, 10)),
        world.said(kai, utc(2026, 11, 10, 8, 0)),
    )
    return {"jo": jo, "ali": ali}


async def test_checkins(world: World) -> None:
    await build(world)
    f = (await world.dashboard(FIRST, LAST, NOW, only=("checkins",))).figures()
    # Sent in the period: Sam 7 (2, 3, 4, 10, 11, 12, 13 Nov) + Kai 2 = 9; answered: Sam 4 Nov, Kai twice = 3.
    assert (f["checkins.sent"].value, f["checkins.answered"].value, f["checkins.answer_rate"].value) == (9, 3, 33.33)
    assert f["checkins.sent"].trend == (5, 4) and f["checkins.answer_rate"].trend == (60.0, 0.0)
    assert f["checkins.missed"].value == 5
    # Sam reached 3 in a row on 3 Nov (counting 30 Oct) and again on 13 Nov (the pause on 12th does not end it).
    assert f["checkins.missed_3_in_a_row"].value == 1
    assert f["checkins.missed_3_in_a_row"].trend == (1, 1)
    # The previous fortnight: one check-in, missed, 1 in a row only.
    assert (f["checkins.sent"].previous, f["checkins.answer_rate"].previous, f["checkins.missed_3_in_a_row"].previous) == (1, 0.0, 0)


async def test_appointments(world: World) -> None:
    await build(world)
    f = (await world.dashboard(FIRST, LAST, NOW, only=("appointments",))).figures()
    # Due 3, 5, 10, 12 Nov (the 20th is after). Reminded: only the 3rd (the 5th's reminder was dropped, so never sent).
    values = [f[f"appointments.{k}"].value for k in ("due", "reminded", "confirmed", "attended", "missed", "cancelled")]
    assert values == [4, 1, 1, 2, 1, 1]
    # Attendance: attended / (attended + missed) = 2 / 3; week 0: 1 / 2; week 1: 1 / 1 (the cancelled one is not counted).
    assert f["appointments.attendance_rate"].value == 66.67
    assert f["appointments.attendance_rate"].trend == (50.0, 100.0)
    assert f["appointments.attendance_rate"].previous is None


async def test_an_anonymised_young_persons_reminded_appointment_still_counts(world: World) -> None:
    staff = await build(world)
    async with world.db() as session:
        # Sam, Jo's first young person, whose appointment on 3 November was reminded.
        sam = await session.scalar(select(YoungPerson).where(YoungPerson.key_worker_id == staff["jo"].id).order_by(YoungPerson.id))
        await do_erase_young_person(session, NOW, sam, mode="anonymise", via="test")
        await session.commit()
    f = (await world.dashboard(FIRST, LAST, NOW, only=("appointments",))).figures()
    # Anonymising blanks the reminder job's payload; the appointment itself still says its reminder went.
    assert f["appointments.reminded"].value == 1 and f["appointments.due"].value == 4


async def test_voice(world: World) -> None:
    await build(world)
    f = (await world.dashboard(FIRST, LAST, NOW, only=("voice",))).figures()
    # Three answers (the skip is not one): yes, a bit, no: one in three felt listened to.
    assert [f[f"voice.listened_{k}"].value for k in ("answers", "yes", "a_bit", "no")] == [3, 1, 1, 1]
    assert f["voice.listened_yes_share"].value == 33.33
    assert f["voice.listened_answers"].trend == (2, 1)
    assert f["voice.good_news"].value == 1 and f["voice.good_news"].trend == (1, 0)


async def test_wellbeing(world: World) -> None:
    await build(world)
    f = (await world.dashboard(FIRST, LAST, NOW, only=("wellbeing",))).figures()
    mood = "wellbeing.feelings.mood"
    # Scores in the period: Sam 3, 2; Kai 2, 4: average 11 / 4 = 2.75.
    # Change: Sam from 4 (his last before the period) to 2 = -2; Kai from 2 (her first) to 4 = +2: average 0.
    assert (f[f"{mood}.average"].value, f[f"{mood}.change"].value, f[f"{mood}.worse"].value) == (2.75, 0, 1)
    # Week 0: Sam 4 -> 3 (-1), Kai 2 -> 2 (0): average 2.5, change -0.5. Week 1: Sam 3 -> 2, Kai 2 -> 4: 3, +0.5.
    assert f[f"{mood}.average"].trend == (2.5, 3.0)
    assert f[f"{mood}.change"].trend == (-0.5, 0.5)
    assert f[f"{mood}.worse"].trend == (1, 1)
    assert (f[f"{mood}.average"].previous, f[f"{mood}.change"].previous) == (4, 0)
    # A score nobody gave has no average rather than 0.
    assert f["wellbeing.ons4.life.average"].value is None


async def scores_world(world: World) -> dict[str, object]:
    """Sam's feelings scores from October to 10 November, and his handover from Jo to Ali on 9 November."""
    jo, ali = await world.staff("Jo"), await world.staff("Ali")
    sam = await world.young_person("Sam", ali)  # Jo's until the handover on 9 November
    await world.add(
        # Mood: 5 on 1 October; a response on 10 October with no mood score (too few answers); 3 on 20 October
        # (the previous period); 2 on 3 November and 4 on 10 November. Sam's sleep: only 3 on 5 November.
        response(sam.id, "feelings", utc(2026, 10, 1, 12, 0), {"mood": 5}),
        response(sam.id, "feelings", utc(2026, 10, 10, 12, 0), {"mood": None, "sleep": 1}),
        response(sam.id, "feelings", utc(2026, 10, 20, 12, 0), {"mood": 3}),
        response(sam.id, "feelings", utc(2026, 11, 3, 12, 0), {"mood": 2}),
        response(sam.id, "feelings", utc(2026, 11, 10, 12, 0), {"mood": 4, "sleep": 3}),
        # Handed to Ali on 9 November: Jo's caseload has his week-0 score only, Ali's his week-1 one.
        Handover(young_person_id=sam.id, from_staff_id=jo.id, to_staff_id=ali.id, by_staff_id=jo.id, at=utc(2026, 11, 9, 0, 0)),
    )
    return {"jo": jo, "ali": ali, "sam": sam}


async def test_wellbeing_baselines_from_before_the_previous_period(world: World) -> None:
    await check_scores(world, await scores_world(world), NOW)


async def check_scores(world: World, people: dict[str, object], now: datetime) -> None:
    """Assert the wellbeing figures of scores_world, worked out by hand, on the page computed at now."""
    jo, ali = people["jo"], people["ali"]
    mood, sleep = "wellbeing.feelings.mood", "wellbeing.feelings.sleep"
    f = (await world.dashboard(FIRST, LAST, now, only=("wellbeing",))).figures()
    # Previous period: 3 against his last score before it, 5 on 1 October (10 October had none): -2, worse.
    assert (f[f"{mood}.change"].previous, f[f"{mood}.worse"].previous) == (-2, 1)
    # The period: from 3 (20 October) to 4: +1. Week 0: 3 -> 2 (-1, worse); week 1: 2 -> 4 (+2).
    assert (f[f"{mood}.change"].value, f[f"{mood}.worse"].value) == (1, 0)
    assert (f[f"{mood}.change"].trend, f[f"{mood}.worse"].trend) == ((-1, 2), (1, 0))
    # Sleep: 3 against 1 (10 October, before the previous period): +2, in week 1 and the period.
    assert (f[f"{sleep}.change"].value, f[f"{sleep}.change"].trend, f[f"{sleep}.change"].previous) == (2, (None, 2), None)
    # For a key worker, each window's first and last scores are those while Sam was theirs.
    f = (await world.dashboard(FIRST, LAST, now, Scope(ScopeKind.WORKER, jo.id), only=("wellbeing",))).figures()  # type: ignore[attr-defined]
    assert (f[f"{mood}.change"].value, f[f"{mood}.change"].trend, f[f"{mood}.change"].previous) == (-1, (-1, None), -2)
    f = (await world.dashboard(FIRST, LAST, now, Scope(ScopeKind.WORKER, ali.id), only=("wellbeing",))).figures()  # type: ignore[attr-defined]
    assert (f[f"{mood}.change"].value, f[f"{mood}.change"].trend, f[f"{mood}.change"].previous) == (2, (None, 2), None)


async def test_safeguarding(world: World) -> None:
    await build(world)
    board = await world.dashboard(FIRST, LAST, NOW, only=("safeguarding",))
    f = board.figures()
    assert (f["safeguarding.alerts"].value, f["safeguarding.urgent"].value, f["safeguarding.concern"].value) == (4, 3, 1)
    # Acknowledged in 300 s and 1800 s: median 1050; 90th at 1 + 0.9 = 1.9: 300 + 0.9 * 1500 = 1650.
    assert (f["safeguarding.ack_median"].value, f["safeguarding.ack_p90"].value) == (1050, 1650)
    # Within 15 minutes: the 5-minute one, of three decided (the one raised 5 minutes ago is not late yet).
    assert f["safeguarding.ack_within_15_min"].value == 33.33
    assert f["safeguarding.ack_within_15_min"].trend == (50.0, 0.0)
    assert f["safeguarding.never_acknowledged"].value == 2
    assert (f["safeguarding.escalations"].value, f["safeguarding.escalated_alerts"].value) == (7, 2)
    (levels, categories) = board.groups[0].breakdowns
    assert levels.rows == (("Urgent", 3), ("Concern", 1))
    assert categories.rows == (("self_harm", 2), ("bullying", 1), ("missing", 1))


async def test_outcomes_next_to_engagement(world: World) -> None:
    await build(world)
    board = await world.dashboard(FIRST, LAST, NOW, only=("outcomes",))
    f = board.figures()
    assert (f["outcomes.missing_episodes"].value, f["outcomes.missing_open"].value) == (2, 1)
    assert f["outcomes.missing_first_contact_median"].value == 5400
    assert f["outcomes.placement_moves"].trend == (0, 1)
    assert f["outcomes.crisis_alerts"].value == 3
    # Regular contact (wrote or answered a check-in in at least 1 of the 2 weeks): Sam and Kai, 1 episode between
    # them (5 per 10); not: Mo and Lee, 1 episode (5 per 10). Zed left before the period.
    (split,) = board.groups[0].breakdowns
    assert [value for _, value in split.rows] == [5.0, 5.0]
    # The same figure from both databases: a float, which a CSV shows as 5.0 (PostgreSQL's SUM alone gave 5.00).
    assert [type(value) for _, value in split.rows] == [float, float]
    assert "(2 young people)" in split.rows[0][0] and split.rows[0][0].startswith("In regular contact")


async def test_reach(world: World) -> None:
    await build(world)
    f = (await world.dashboard(FIRST, LAST, NOW, only=("reach",))).figures()
    # On caseloads: Sam, Kai, Mo all period, Lee from week 1; the previous period had Zed instead of Lee.
    assert f["reach.on_caseload"].value == 4 and f["reach.on_caseload"].trend == (3, 4) and f["reach.on_caseload"].previous == 4
    # Linked: Sam and Mo throughout, Kai from 9 November.
    assert f["reach.linked"].trend == (2, 3) and f["reach.linked"].previous == 2
    assert f["reach.messaged"].value == 2 and f["reach.messaged"].trend == (1, 1)
    # Unreachable: Mo (blocked since 1 Nov) throughout; Kai opted out on 10 Nov 12:00.
    assert f["reach.unreachable"].trend == (1, 2) and f["reach.unreachable"].previous == 1
    # For how long, at the end (NOW, 15 Nov 23:55): Mo 14 d 23 h 55 m, Kai 5 d 11 h 55 m: median 10.2465 days.
    # At the end of week 0 (9 Nov 00:00) Mo had been blocked 8 days; at the end of the previous period, 1 day.
    assert f["reach.unreachable_days_median"].value == 10.25
    assert f["reach.unreachable_days_median"].trend == (8.0, 10.25)
    assert f["reach.unreachable_days_median"].previous == 1.0


async def test_key_worker_scope_sees_only_their_caseload(world: World) -> None:
    staff = await build(world)
    jo = staff["jo"]
    f = (await world.dashboard(FIRST, LAST, NOW, Scope(ScopeKind.WORKER, jo.id), only=("checkins", "safeguarding"))).figures()  # type: ignore[attr-defined]
    # Jo's young people are Sam, Mo and Lee: Sam's 7 check-ins and the alerts of Sam (1) and Mo (2).
    assert f["checkins.sent"].value == 7
    assert f["safeguarding.alerts"].value == 3


async def test_team_scope_counts_from_when_the_member_joined(world: World) -> None:
    from models import TeamMember

    staff = await build(world)
    ali = staff["ali"]
    async with world.db() as session:
        from sqlalchemy import select

        from models import YoungPerson

        sam_id = await session.scalar(select(YoungPerson.id).where(YoungPerson.key_worker_id == staff["jo"].id).order_by(YoungPerson.id))  # type: ignore[attr-defined]
    # Ali joins Sam's team as life coach on Monday 9 November.
    await world.add(TeamMember(young_person_id=sam_id, staff_id=ali.id, role="life coach", added_at=utc(2026, 11, 9)))  # type: ignore[attr-defined]
    board = await world.dashboard(FIRST, LAST, NOW, Scope(ScopeKind.TEAM, ali.id), only=("checkins",), tables=True)  # type: ignore[attr-defined]
    # Sam's check-ins from 9 November: 10, 11, 12, 13 (none answered).
    assert board.figures()["checkins.sent"].trend == (0, 4)
    teams = next(t for t in board.tables if t.key == "teams")
    # One young person, 4 check-ins, 0% answered, no alerts or missing episodes of Sam's since Ali joined.
    assert teams.rows == (("Ali", 1, 4, 0.0, 0, 0),)
