"""Prometheus figures for monitoring: counts and times only, never names or words."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from bot.health import database_unavailable
from console.deps import RuntimeDep
from console.security import same_token

router = APIRouter()


@router.get("/metrics")
async def read_metrics(request: Request, rt: RuntimeDep) -> Response:
    """Answer a Prometheus scrape; with KEYWORKER_METRICS_TOKEN set, only a scraper sending it as a bearer token."""
    token = rt.settings.metrics_token
    if token is not None:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not same_token(token.get_secret_value(), given):
            return Response("metrics token required", status_code=401, media_type="text/plain")
    metrics = rt.metrics
    metrics.live_listeners.set(rt.events.listeners)
    try:
        async with rt.db() as session:
            await metrics.refresh(session, rt.now())
        metrics.database_up.set(1)
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        # The in-memory counters still help while the database is away; queue depths keep their last value.
        metrics.database_up.set(0)
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
