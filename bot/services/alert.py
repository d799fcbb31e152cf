"""Safeguarding alerts: raised at once, escalated until a person acknowledges, every step recorded."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.scheduler import do_cancel_jobs, do_schedule_job
from bot.services.flag import do_clear_flags, do_raise_flag
from bot.services.young_person import audience, may_view
from models import Alert, AlertAction, DutyShift, StaffMember, StaffRole, YoungPerson

ESCALATION_JOB = "alert_escalation"
NOTIFY_JOB = "staff_notify"
# A burst of worrying messages joins the alert still waiting for someone, rather than making more.
JOIN_WINDOW = timedelta(hours=1)


class AlertError(ValueError):
    """An alert change that cannot be made, with a message fit to show."""


async def do_raise_alert(
    session: AsyncSession,
    now: datetime,
    young_person: YoungPerson,
    *,
    level: str,
    categories: list[str],
    source: str,
    message_id: int | None,
    escalate_after: timedelta,
) -> tuple[Alert, bool]:
    """Raise an alert (or join the open one) and schedule its escalation; say whether it is new."""
    open_alert = await session.scalar(
        select(Alert)
        .where(
            Alert.young_person_id == young_person.id,
            Alert.level == level,
            Alert.closed_at.is_(None),
            Alert.acknowledged_at.is_(None),
            Alert.raised_at >= now - JOIN_WINDOW,
        )
        .order_by(Alert.raised_at.desc())
        .limit(1)
    )
    if open_alert is not None:
        open_alert.categories = sorted(set(open_alert.categories) | set(categories))
        session.add(AlertAction(alert_id=open_alert.id, kind="again", note=f"{source} (message {message_id})", at=now))
        await session.flush()
        return open_alert, False
    alert = Alert(
        young_person_id=young_person.id,
        message_id=message_id,
        level=level,
        categories=sorted(categories),
        source=source,
        raised_at=now,
    )
    session.add(alert)
    await session.flush()
    session.add(AlertAction(alert_id=alert.id, kind="raised", note=source, at=now))
    await do_raise_flag(session, now, young_person.id, f"risk_{level}", alert_id=alert.id)
    if level == "urgent":
        await do_schedule_job(
            session, now, kind=ESCALATION_JOB, key=f"alert:{alert.id}:escalate:1",
            due_at=now + escalate_after, young_person_id=young_person.id, payload={"alert_id": alert.id},
        )
        for staff_id in first_responders(young_person):
            await schedule_notice(session, now, alert, staff_id, round_=0)
    return alert, True


def first_responders(young_person: YoungPerson) -> list[int]:
    """Name who is told first: everyone who looks after the young person's messages now."""
    return sorted(int(key.split(":", 1)[1]) for key in audience(young_person) if key.startswith("staff:"))


async def schedule_notice(session: AsyncSession, now: datetime, alert: Alert, staff_id: int, *, round_: int) -> None:
    """Queue a Telegram notice to a staff member who linked their own Telegram."""
    await do_schedule_job(
        session, now, kind=NOTIFY_JOB, key=f"alert:{alert.id}:notify:{staff_id}:{round_}",
        due_at=now, payload={"alert_id": alert.id, "staff_id": staff_id},
    )


async def escalation_recipients(session: AsyncSession, now: datetime) -> list[StaffMember]:
    """Return every active manager and everyone on the duty rota now."""
    on_duty = select(DutyShift.staff_id).where(DutyShift.starts_at <= now, DutyShift.ends_at > now)
    rows = await session.scalars(
        select(StaffMember)
        .where(
            StaffMember.active.is_(True),
            or_(StaffMember.role == StaffRole.MANAGER, StaffMember.id.in_(on_duty)),
        )
        .order_by(StaffMember.id)
    )
    return list(rows)


async def on_duty(session: AsyncSession, staff: StaffMember, now: datetime) -> bool:
    return (
        await session.scalar(
            select(DutyShift.id).where(
                DutyShift.staff_id == staff.id, DutyShift.starts_at <= now, DutyShift.ends_at > now
            )
        )
    ) is not None


async def may_see_alert(session: AsyncSession, staff: StaffMember, alert: Alert, young_person: YoungPerson, now: datetime) -> bool:
    """The young person's own workers always; managers and the duty rota once it has escalated."""
    if may_view(staff, young_person):
        return True
    if alert.escalations == 0:
        return False
    return staff.role == StaffRole.MANAGER or await on_duty(session, staff, now)


async def visible_alerts(session: AsyncSession, staff: StaffMember, now: datetime, *, open_only: bool = True) -> list[tuple[Alert, YoungPerson]]:
    """List the alerts a staff member should see, urgent and oldest first."""
    query = select(Alert, YoungPerson).join(YoungPerson, YoungPerson.id == Alert.young_person_id)
    if open_only:
        query = query.where(Alert.closed_at.is_(None))
    rows = (await session.execute(query.order_by(Alert.level.desc(), Alert.raised_at))).all()
    return [(a, yp) for a, yp in rows if await may_see_alert(session, staff, a, yp, now)]


async def do_acknowledge_alert(session: AsyncSession, now: datetime, alert: Alert, staff: StaffMember) -> bool:
    """Record that a person has picked the alert up, which stops its escalation; False if already."""
    if alert.acknowledged_at is not None:
        return False
    alert.acknowledged_at, alert.acknowledged_by_id = now, staff.id
    session.add(AlertAction(alert_id=alert.id, staff_id=staff.id, kind="acknowledged", at=now))
    await do_cancel_jobs(session, now, key_prefix=f"alert:{alert.id}:escalate:")
    await session.flush()
    return True


async def do_record_alert_action(session: AsyncSession, now: datetime, alert: Alert, staff: StaffMember, note: str) -> None:
    """Record what someone did (called, visited, told the police...) with its time."""
    note = note.strip()
    if not note:
        raise AlertError("Please say what was done.")
    await do_acknowledge_alert(session, now, alert, staff)
    session.add(AlertAction(alert_id=alert.id, staff_id=staff.id, kind="action", note=note[:5000], at=now))
    await session.flush()


async def do_close_alert(session: AsyncSession, now: datetime, alert: Alert, staff: StaffMember, note: str) -> None:
    """Close an alert with the outcome; closing acknowledges it too."""
    if alert.closed_at is not None:
        raise AlertError("This alert is already closed.")
    if not note.strip():
        raise AlertError("Please say how it was resolved before closing.")
    await do_acknowledge_alert(session, now, alert, staff)
    alert.closed_at, alert.closed_by_id = now, staff.id
    session.add(AlertAction(alert_id=alert.id, staff_id=staff.id, kind="closed", note=note.strip()[:5000], at=now))
    remaining = await session.scalar(
        select(Alert.id).where(
            Alert.young_person_id == alert.young_person_id, Alert.level == alert.level,
            Alert.closed_at.is_(None), Alert.id != alert.id,
        )
    )
    if remaining is None:
        await do_clear_flags(session, now, alert.young_person_id, f"risk_{alert.level}", cleared_by_id=staff.id)
    await session.flush()


async def actions(session: AsyncSession, alert_id: int) -> list[AlertAction]:
    return list(await session.scalars(select(AlertAction).where(AlertAction.alert_id == alert_id).order_by(AlertAction.at, AlertAction.id)))


async def do_add_duty_shift(session: AsyncSession, staff_id: int, starts_at: datetime, ends_at: datetime) -> DutyShift:
    """Put someone on the duty rota for a stretch of time."""
    if ends_at <= starts_at:
        raise AlertError("A shift must end after it starts.")
    shift = DutyShift(staff_id=staff_id, starts_at=starts_at, ends_at=ends_at)
    session.add(shift)
    await session.flush()
    return shift
