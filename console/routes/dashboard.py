"""Manager dashboards: indicators for a period and scope as a page, CSV tables and a versioned JSON API.

Managers (and admins) see every scope; a key worker sees the same indicators for their own caseload.
Nothing here shows a message's words: only counts, times and names of staff.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.runtime import Runtime
from bot.services.audit import do_audit
from bot.services.indicators import VERSION, Dashboard, Scope, ScopeKind, make_period
from bot.services.indicators.export import CSV_TABLES, as_csv, as_json
from bot.services.indicators.kept import kept_dashboard
from bot.services.indicators.period import PERIODS, Period
from bot.services.indicators.show import Shown, show_dashboard
from bot.services.indicators.tables import Table
from console.deps import CurrentStaff, RuntimeDep, SessionDep
from console.routes.auth import client_ip
from models import StaffMember, StaffRole

router = APIRouter()


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise HTTPException(status_code=400, detail=f"The day {value[:20]!r} is not a date like 2026-11-02.") from None


def _choose(rt: Runtime, staff: StaffMember, period: str, first: str, last: str, scope: str, whose: str) -> tuple[Period, Scope]:
    """Read the filters; a key worker always gets their own caseload, whatever the URL says."""
    if whose and not whose.isdigit():
        raise HTTPException(status_code=400, detail=f"Staff number {whose[:20]!r} is not a number.")
    staff_id = int(whose) if whose else None
    today = rt.now().astimezone(rt.settings.tz).date()
    try:
        chosen = make_period(period or "4weeks", today, rt.settings.tz, _day(first), _day(last))
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    if staff.role == StaffRole.KEY_WORKER:
        return chosen, Scope(ScopeKind.WORKER, staff.id)
    try:
        kind = ScopeKind(scope or "service")
    except ValueError:
        raise HTTPException(status_code=400, detail=f"Scope {scope[:20]!r} is not service, team or worker.") from None
    if kind != ScopeKind.SERVICE and staff_id is None:
        raise HTTPException(status_code=400, detail="Choose whose team or caseload to show.")
    return chosen, Scope(kind, staff_id if kind != ScopeKind.SERVICE else None)


async def _compute(rt: Runtime, session: AsyncSession, staff: StaffMember, period: Period, scope: Scope) -> tuple[Dashboard, tuple[Table, ...]]:
    # A key worker sees their own caseload and their own rows; a manager who picks one worker's caseload sees
    # that worker's rows (every worker's are on the whole service's page).
    own = staff.id if staff.role == StaffRole.KEY_WORKER else scope.staff_id if scope.kind == ScopeKind.WORKER else None
    fresh = timedelta(seconds=rt.settings.dashboard_fresh_seconds)
    board = await kept_dashboard(session, period, scope, rt.now(), own=own, fresh=fresh)
    return board, board.tables


async def _staff_choices(session: AsyncSession) -> list[StaffMember]:
    return list(await session.scalars(select(StaffMember).where(StaffMember.active.is_(True)).order_by(StaffMember.display_name)))


@router.get("/dashboard", response_class=HTMLResponse)
async def read_dashboard(
    request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff,
    period: str = "4weeks", first: str = "", last: str = "", scope: str = "service", staff_id: str = "",
) -> Response:
    chosen, picked = _choose(rt, staff, period, first, last, scope, staff_id)
    board, tables = await _compute(rt, session, staff, chosen, picked)
    shown: Shown = show_dashboard(board, tables)
    export_query = urlencode({
        k: v for k, v in {"period": chosen.name, "first": first, "last": last, "scope": str(picked.kind), "staff_id": picked.staff_id}.items()
        if v not in ("", None)
    })
    context: dict[str, Any] = {
        "shown": shown, "period": chosen, "scope": picked, "periods": PERIODS, "filters": {
            "period": chosen.name, "first": first, "last": last, "scope": str(picked.kind), "staff_id": picked.staff_id,
        },
        "is_manager": staff.role != StaffRole.KEY_WORKER,
        "staff_choices": await _staff_choices(session) if staff.role != StaffRole.KEY_WORKER else [],
        "export_query": export_query, "csv_tables": CSV_TABLES, "version": VERSION,
        # An open page asks for newer figures as often as they are worked out again, at most once a minute
        # (never when every page is worked out afresh: then each would cost a whole computation).
        "refresh_seconds": max(rt.settings.dashboard_fresh_seconds, 60) if rt.settings.dashboard_fresh_seconds else 0,
    }
    return request.app.state.templates.TemplateResponse(request, "dashboard/page.html", context)


@router.get("/dashboard.csv")
async def read_dashboard_csv(
    request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff, table: str = "indicators",
    period: str = "4weeks", first: str = "", last: str = "", scope: str = "service", staff_id: str = "",
) -> Response:
    if table not in CSV_TABLES:
        raise HTTPException(status_code=400, detail=f"Table {table[:20]!r} is not one of {', '.join(CSV_TABLES)}.")
    chosen, picked = _choose(rt, staff, period, first, last, scope, staff_id)
    board, tables = await _compute(rt, session, staff, chosen, picked)
    body = as_csv(board, tables, table)
    do_audit(session, rt.now(), "export", actor_id=staff.id, ip=client_ip(request), target=f"indicators.csv:{table}",
             period=chosen.name, first_day=chosen.first_day.isoformat(), last_day=chosen.last_day.isoformat(),
             scope=str(picked.kind), staff_id=picked.staff_id)
    await session.commit()
    name = f"keyworker-{table}-{chosen.first_day:%Y%m%d}-{chosen.last_day:%Y%m%d}.csv"
    return Response(body, media_type="text/csv; charset=utf-8", headers={"content-disposition": f'attachment; filename="{name}"'})


@router.get("/api/v1/indicators")
async def read_indicators(
    request: Request, rt: RuntimeDep, session: SessionDep, staff: CurrentStaff,
    period: str = "4weeks", first: str = "", last: str = "", scope: str = "service", staff_id: str = "",
) -> Response:
    chosen, picked = _choose(rt, staff, period, first, last, scope, staff_id)
    board, tables = await _compute(rt, session, staff, chosen, picked)
    do_audit(session, rt.now(), "export", actor_id=staff.id, ip=client_ip(request), target="indicators.json",
             period=chosen.name, first_day=chosen.first_day.isoformat(), last_day=chosen.last_day.isoformat(),
             scope=str(picked.kind), staff_id=picked.staff_id)
    await session.commit()
    return JSONResponse(as_json(board, tables))
