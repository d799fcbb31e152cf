"""The chronology export of a young person's record: a printable page or CSV for the case record, audited."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from bot.services import chronology as service
from console.routes.auth import client_ip
from console.deps import CurrentStaff, RuntimeDep, SessionDep
from console.routes.young_people import load_young_person
from models import StaffMember, StaffRole, YoungPerson

router = APIRouter(prefix="/young-people/{young_person_id}")
log = logging.getLogger(__name__)
FORMATS = {"html": "text/html; charset=utf-8", "csv": "text/csv; charset=utf-8"}


async def load_for_export(session: SessionDep, staff: StaffMember, young_person_id: int) -> YoungPerson:
    """Load a young person for a chronology: their worker, cover or team, or an administrator; 404 otherwise."""
    if staff.role == StaffRole.ADMIN and staff.active:
        # Administrators answer the case system's requests (as for subject access exports).
        found = await session.get(YoungPerson, young_person_id)
        if found is None:
            raise HTTPException(status_code=404, detail="No young person with that number.")
        return found
    return await load_young_person(session, staff, young_person_id)


@router.get("/chronology.html")
async def read_chronology_html(
    request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, young_person_id: int
) -> Response:
    return await _export(request, rt, session, staff, young_person_id, "html")


@router.get("/chronology.csv")
async def read_chronology_csv(
    request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, young_person_id: int
) -> Response:
    return await _export(request, rt, session, staff, young_person_id, "csv")


async def _export(request: Request, rt: RuntimeDep, session: SessionDep, staff: StaffMember, young_person_id: int, fmt: str) -> Response:
    young_person = await load_for_export(session, staff, young_person_id)
    now, tz = rt.now(), rt.settings.tz
    chronology = await service.build_chronology(session, now, young_person, tz)
    body = service.render_html(chronology, tz) if fmt == "html" else service.render_csv(chronology, tz)
    service.do_record_chronology_export(session, now, young_person.id, actor_id=staff.id, ip=client_ip(request), fmt=fmt, entries=len(chronology.entries))
    await session.commit()
    log.info("staff %s exported the chronology of young person %s as %s", staff.id, young_person.id, fmt)
    return Response(
        body,
        media_type=FORMATS[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{service.file_name(chronology, fmt)}"',
            "Cache-Control": "no-store",
        },
    )
