"""Administration: the audit log (view, verify, export) and every live session (end any of them)."""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy import select, update

from bot.services.audit import do_audit, seal, verify
from console.deps import CsrfChecked, CurrentStaff, RuntimeDep, SessionDep, require_role
from models import AuditEvent, StaffMember, StaffRole, StaffSession

router = APIRouter(prefix="/admin", dependencies=[require_role(StaffRole.ADMIN)])
COLUMNS = ("id", "at", "action", "actor_staff_id", "young_person_id", "target", "ip", "prev_hash", "hash")


@router.get("/audit", response_class=HTMLResponse)
async def read_audit(request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, young_person: int | None = None) -> Response:
    await seal(session)
    check = await verify(session)
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(200)
    if young_person is not None:
        query = query.where(AuditEvent.young_person_id == young_person)
    events = list(await session.scalars(query))
    names = dict((await session.execute(select(StaffMember.id, StaffMember.display_name))).all())
    do_audit(session, rt.now(), "view_audit", actor_id=staff.id)
    await session.commit()
    return request.app.state.templates.TemplateResponse(
        request, "admin/audit.html", {"events": events, "check": check, "names": names, "young_person": young_person}
    )


@router.get("/audit.csv")
async def read_audit_csv(rt: RuntimeDep, session: SessionDep, staff: CurrentStaff) -> Response:
    do_audit(session, rt.now(), "export_audit", actor_id=staff.id)
    await session.commit()
    await seal(session)
    rows = (await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for event in rows:
        writer.writerow([getattr(event, column) for column in COLUMNS])
    return StreamingResponse(
        iter([buffer.getvalue()]), media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="keyworker-audit.csv"'},
    )


@router.get("/sessions", response_class=HTMLResponse)
async def read_sessions(request: Request, rt: RuntimeDep, session: SessionDep) -> Response:
    rows = (
        await session.execute(
            select(StaffSession, StaffMember)
            .join(StaffMember, StaffMember.id == StaffSession.staff_id)
            .where(StaffSession.ended_at.is_(None))
            .order_by(StaffSession.last_seen_at.desc())
        )
    ).all()
    return request.app.state.templates.TemplateResponse(request, "admin/sessions.html", {"rows": rows})


@router.post("/sessions/end", dependencies=[CsrfChecked])
async def update_session(
    rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, session_ref: Annotated[str, Form(max_length=64)],
) -> Response:
    # Sessions are named by a prefix of their token hash: enough to pick one, useless as a cookie.
    target = await session.scalar(select(StaffSession).where(StaffSession.token_hash.startswith(session_ref, autoescape=True), StaffSession.ended_at.is_(None)))
    if target is not None:
        await session.execute(update(StaffSession).where(StaffSession.token_hash == target.token_hash).values(ended_at=rt.now()))
        do_audit(session, rt.now(), "end_session", actor_id=staff.id, target=f"staff:{target.staff_id}")
        await session.commit()
    return RedirectResponse("/admin/sessions", status_code=303)
