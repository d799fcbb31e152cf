"""Safety plans: what helps a young person when things get hard, offered before helplines."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from models import SafetyPlan


async def read_safety_plan(session: AsyncSession, young_person_id: int) -> SafetyPlan | None:
    return await session.get(SafetyPlan, young_person_id)


async def do_save_safety_plan(
    session: AsyncSession,
    now: datetime,
    young_person_id: int,
    staff_id: int,
    *,
    warning_signs: str,
    things_that_help: str,
    people_and_places: str,
    who_to_call: str,
) -> SafetyPlan | None:
    """Write the safety plan; an all-empty plan is removed, so nobody is sent a blank one."""
    plan = await session.get(SafetyPlan, young_person_id)
    fields = {
        "warning_signs": warning_signs.strip(),
        "things_that_help": things_that_help.strip(),
        "people_and_places": people_and_places.strip(),
        "who_to_call": who_to_call.strip(),
    }
    if not any(fields.values()):
        if plan is not None:
            await session.delete(plan)
            await session.flush()
        return None
    if plan is None:
        plan = SafetyPlan(young_person_id=young_person_id, **fields, updated_at=now, updated_by_id=staff_id)
        session.add(plan)
    else:
        for name, value in fields.items():
            setattr(plan, name, value)
        plan.updated_at, plan.updated_by_id = now, staff_id
    await session.flush()
    return plan
