"""Liveness and readiness for load balancers and monitoring."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from bot.health import database_unavailable, probe_database
from bot.services.undelivered import oldest_open
from console.deps import RuntimeDep

router = APIRouter()


async def _report(rt: RuntimeDep) -> dict[str, Any]:
    problem = await probe_database(rt.engine)
    failing = rt.health.failing()
    if problem is None:
        failing.pop("database", None)  # seen failing earlier, answering now
        # Kept aside by any process (bot/intake.py) and not yet marked handled by staff.
        try:
            async with rt.db() as session:
                waiting, oldest = await oldest_open(session)
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            waiting, oldest = 0, None  # gone again since the probe: the next look says so
        if waiting:
            failing["undelivered_updates"] = {"error": f"{waiting} not processed, waiting for staff", "since": oldest.isoformat() if oldest else ""}
    report: dict[str, Any] = {
        "status": "degraded" if problem or failing else "ok",
        "database": "ok" if problem is None else f"unreachable ({problem})",
        "mode": rt.settings.mode,
    }
    if failing:
        report["failing"] = failing
    return report


@router.get("/healthz")
async def read_health(rt: RuntimeDep) -> JSONResponse:
    """Say the process is alive (always 200: it recovers by itself), and whether anything it needs is failing."""
    return JSONResponse(await _report(rt))


@router.get("/readyz")
async def read_ready(rt: RuntimeDep) -> JSONResponse:
    """Say whether this process can take traffic: 503 while its database is unreachable."""
    report = await _report(rt)
    return JSONResponse(report, status_code=503 if report["database"] != "ok" else 200)
