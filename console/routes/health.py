"""Liveness and readiness for load balancers and monitoring."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from console.deps import RuntimeDep

router = APIRouter()


@router.get("/healthz")
async def read_health() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
async def read_ready(rt: RuntimeDep) -> JSONResponse:
    try:
        async with rt.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        return JSONResponse({"status": "degraded", "database": type(exc).__name__}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok", "mode": rt.settings.mode})
