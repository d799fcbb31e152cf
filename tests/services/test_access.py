"""Least privilege: who may see a young person, decided the same way by every check."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.clock import FrozenClock
from bot.services.leave import LeaveError, do_add_leave, do_end_cover
from bot.services.team import do_add_team_member, do_remove_team_member, sender_label
from bot.services.young_person import (
    NotAllowed,
    audience,
    caseload,
    do_add_young_person,
    get_for_staff,
    may_view,
    unread_total,
)
from models import DeliveryStatus, Direction, LeavePeriod, Message, SenderKind, StaffMember, StaffRole, TeamMember, YoungPerson
from tests.conftest import Service


async def sees(service: Service, staff: StaffMember, young_person_id: int) -> dict[str, bool | int]:
    """Ask every access check, each in a fresh session as a request would, what the staff member sees."""
    async with service.rt.db() as session:
        staff = await session.merge(staff)
        person = await session.get(YoungPerson, young_person_id)
        assert person is not None
        try:
            await get_for_staff(session, staff, young_person_id)
            opened = True
        except NotAllowed:
            opened = False
        return {
            "may_view": may_view(staff, person),
            "opens": opened,
            "in_caseload": young_person_id in [row.young_person.id for row in await caseload(session, staff)],
            "live": f"staff:{staff.id}" in audience(person),
            "unread": await unread_total(session, staff),
        }


NOTHING = {"may_view": False, "opens": False, "in_caseload": False, "live": False, "unread": 0}
EVERYTHING = {"may_view": True, "opens": True, "in_caseload": True, "live": True, "unread": 1}


async def sam_writes(service: Service, young_person_id: int) -> None:
    async with service.rt.db() as session:
        session.add(
            Message(
                young_person_id=young_person_id, direction=Direction.INBOUND, sender_kind=SenderKind.YOUNG_PERSON,
                body="are you there", delivery_status=DeliveryStatus.RECEIVED, created_at=service.rt.now(),
            )
        )
        await session.commit()


async def test_cover_sees_the_caseload_only_during_the_leave(service: Service, clock: FrozenClock) -> None:
    jo = await service.staff("jo", "Jo")
    ali = await service.staff("ali", "Ali")
    sam = (await service.young_person("Samira Haddad", jo, "Sam")).id
    await sam_writes(service, sam)
    async with service.rt.db() as session:
        await do_add_leave(
            session, clock.now(), service.rt.settings.tz, await session.merge(jo),
            starts_on=date(2026, 11, 30), ends_on=date(2026, 12, 4), cover=await session.merge(ali), by=jo,
        )
        await session.commit()

    assert await sees(service, jo, sam) == EVERYTHING
    assert await sees(service, ali, sam) == NOTHING  # planned, not begun
    clock.set(datetime(2026, 11, 29, 23, 59, tzinfo=UTC))
    await service.run_jobs()
    assert await sees(service, ali, sam) == NOTHING
    clock.set(datetime(2026, 11, 30, 0, 0, tzinfo=UTC))
    await service.run_jobs()
    assert await sees(service, ali, sam) == EVERYTHING
    assert await sees(service, jo, sam) == EVERYTHING  # the worker on leave keeps their own caseload
    clock.set(datetime(2026, 12, 5, 0, 0, tzinfo=UTC))
    await service.run_jobs()
    assert await sees(service, ali, sam) == NOTHING


async def test_team_members_see_their_young_person_and_managers_see_figures_only(service: Service, clock: FrozenClock) -> None:
    jo = await service.staff("jo", "Jo")
    kai = await service.staff("kai", "Kai")
    bo = await service.staff("bo", "Bo")
    priya = await service.staff("priya", "Priya", StaffRole.MANAGER)
    sam = (await service.young_person("Samira Haddad", jo, "Sam")).id
    await sam_writes(service, sam)

    assert await sees(service, kai, sam) == NOTHING
    # A manager's caseload lists every young person (figures only) but opens none of them.
    assert await sees(service, priya, sam) == {**NOTHING, "in_caseload": True}
    async with service.rt.db() as session:
        person = await session.get(YoungPerson, sam)
        assert person is not None
        await do_add_team_member(session, clock.now(), person, await session.merge(kai), role=" life   coach ", added_by=jo)
        await do_add_team_member(session, clock.now(), person, await session.merge(priya), role="family-circles worker", added_by=jo)
        await session.commit()
        assert await sender_label(session, kai.id, sam) == "Kai (life coach)"
        assert await sender_label(session, jo.id, sam) == "Jo"
    assert await sees(service, kai, sam) == EVERYTHING
    assert await sees(service, priya, sam) == EVERYTHING
    assert await sees(service, bo, sam) == NOTHING

    async with service.rt.db() as session:
        person = await session.get(YoungPerson, sam)
        member = await session.get(TeamMember, 1)
        assert person is not None and member is not None and member.staff_id == kai.id
        await do_remove_team_member(session, clock.now(), person, member, removed_by=jo)
        await session.commit()
    assert await sees(service, kai, sam) == NOTHING

    async with service.rt.db() as session:  # a closed account sees nothing, team or not
        (await session.get(StaffMember, priya.id)).active = False  # type: ignore[union-attr]
        await session.commit()
    priya.active = False
    assert (await sees(service, priya, sam))["opens"] is False


async def test_a_young_person_added_in_this_session_can_be_checked_without_loading(service: Service, clock: FrozenClock) -> None:
    jo = await service.staff("jo", "Jo")
    async with service.rt.db() as session:
        person = await do_add_young_person(
            session, clock.now(), full_name="Riley Shaw", preferred_name="", key_worker=await session.merge(jo)
        )
        assert audience(person) == frozenset({f"staff:{jo.id}", f"yp:{person.id}"})
        assert may_view(await session.merge(jo), person)


@pytest.mark.parametrize(
    ("first", "last", "cover", "message"),
    [
        (date(2026, 12, 2), date(2026, 12, 1), "ali", "on or after the first day"),
        (date(2026, 11, 1), date(2026, 11, 20), "ali", "already over"),
        (date(2026, 12, 1), date(2026, 12, 2), "jo", "someone else to cover"),
        (date(2026, 12, 3), date(2026, 12, 10), "ali", "Jo already has leave"),
        (date(2026, 12, 20), date(2026, 12, 21), "bo", "Bo is away then too"),
        (date(2027, 1, 5), date(2027, 1, 6), "ali", "Jo is covering for Bo then"),
    ],
)
async def test_leave_that_cannot_work_is_refused(
    service: Service, clock: FrozenClock, first: date, last: date, cover: str, message: str
) -> None:
    staff = {name: await service.staff(name, name.title()) for name in ("jo", "ali", "bo")}
    async with service.rt.db() as session:
        tz = service.rt.settings.tz
        jo, bo = await session.merge(staff["jo"]), await session.merge(staff["bo"])
        await do_add_leave(session, clock.now(), tz, jo, starts_on=date(2026, 12, 1), ends_on=date(2026, 12, 4), cover=await session.merge(staff["ali"]), by=jo)
        await do_add_leave(session, clock.now(), tz, bo, starts_on=date(2026, 12, 18), ends_on=date(2026, 12, 24), cover=await session.merge(staff["ali"]), by=bo)
        await do_add_leave(session, clock.now(), tz, bo, starts_on=date(2027, 1, 4), ends_on=date(2027, 1, 8), cover=jo, by=bo)
        with pytest.raises(LeaveError, match=message):
            await do_add_leave(session, clock.now(), tz, jo, starts_on=first, ends_on=last, cover=await session.merge(staff[cover]), by=jo)


async def test_a_cancelled_leave_never_starts(service: Service, clock: FrozenClock) -> None:
    jo = await service.staff("jo", "Jo")
    ali = await service.staff("ali", "Ali")
    sam = (await service.young_person("Samira Haddad", jo, "Sam")).id
    async with service.rt.db() as session:
        leave = await do_add_leave(
            session, clock.now(), service.rt.settings.tz, await session.merge(jo),
            starts_on=date(2026, 11, 30), ends_on=date(2026, 12, 4), cover=await session.merge(ali), by=jo,
        )
        await do_end_cover(session, clock.now(), leave, by=jo)
        await session.commit()
        leave_id = leave.id
    clock.set(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    await service.run_jobs()
    assert await sees(service, ali, sam) == NOTHING
    async with service.rt.db() as session:
        stored = await session.get(LeavePeriod, leave_id)
        assert stored is not None and stored.state == "cancelled"
