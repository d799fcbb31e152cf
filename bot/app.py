"""Assemble the service: database, channels, outbox and console in one app with one lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import HTTPException as FastAPIHTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.channels.telegram import TelegramChannel
from bot.channels.webchat import WebChatChannel
from bot.clock import Clock, SystemClock
from bot.content import Content
from bot.events import EventBus
from bot.health import Health
from bot.intake import IntakeGuard
from bot.metrics import Metrics
from bot.relay import PgRelay
from bot.inbound import Batcher, receive, settle
from bot.jobs import ASIDE, JOB_HANDLERS
from bot.outbox import Outbox, Sleep
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from bot.services.indicators.kept import plan_refresh
from bot.services.indicators.rollup import plan_rollup
from bot.services.risk import RiskChecker
from bot.services.risk_model import ModelledRiskChecker
from bot.keys import load_keyring
from config.settings import Settings
from models import crypto
from console.deps import LoginRequired, PasswordChangeRequired, SecondFactorRequired
from console.routes import account, admin, admin_staff, alerts, appointments, auth, checkins, data_rights, health, messages, missing, safety_plans, staff, team, telegram, webchat, young_people
from console.routes import metrics as metrics_routes
from console.routes import wellbeing as wellbeing_routes
from console.routes import chronology, placement
from console.routes import dashboard
from console.routes import canned_replies, notes, timeline, webchat_manifest
from console.routes import undelivered
from console.security import SecurityHeaders
from console.templating import build_templates
from models.db import create_engine, create_sessionmaker

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent.parent / "console" / "static"
LIFELINE_SETTLE_SECONDS = 10.0  # at shutdown, how long urgent messages held up by the database are waited for


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    risk: RiskChecker | None = None,
    sleep: Sleep = asyncio.sleep,
) -> FastAPI:
    """Build the ASGI app; channels start and stop with its lifespan."""
    crypto.configure(load_keyring(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        single = _single_statement_engine(settings.database_url)
        rt = _runtime(settings, clock or SystemClock(), risk, sleep, single)
        app.state.runtime = rt
        # Several processes on one PostgreSQL database: each one's live events reach all their pages.
        relay = PgRelay(settings.database_url, rt.events, rt.clock, rt.health) if rt.engine.dialect.name == "postgresql" else None
        try:
            if relay is not None:
                relay.start()
            await _start_channels(rt)
            resumed = await rt.outbox.resume()
            if resumed:
                log.info("resuming delivery of %s pending messages", resumed)
            await rt.lifeline.recall(rt)  # helplines sent without the database go out in each one's language
            if settings.scheduler_interval_seconds > 0:
                async with rt.db() as session:  # the dashboard's rollup and refresh jobs plan their own next runs from then on
                    await plan_rollup(session, rt.now())
                    await plan_refresh(session, rt.now())
                    await session.commit()
                rt.scheduler.start(settings.scheduler_interval_seconds)
                rt.outbox.start(settings.scheduler_interval_seconds)
            yield
        finally:
            await rt.outbox.stop()
            if relay is not None:
                await relay.stop()
            await rt.scheduler.stop()
            if rt.telegram is not None:
                await rt.telegram.stop()
            await settle()
            waiting = await rt.lifeline.settle(timeout=LIFELINE_SETTLE_SECONDS)
            if waiting:  # their helplines went out already
                log.warning("%s urgent messages still waiting on the database at shutdown", waiting)
            await rt.outbox.drain()
            rt.events.close()
            await rt.engine.dispose()
            if single is not None:
                await single.dispose()

    app = FastAPI(title="Keyworker", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.templates = build_templates(settings.tz)
    app.state.settings = settings
    app.add_middleware(telegram.WebhookEndpoint)  # inside the security headers, ahead of FastAPI's router
    app.add_middleware(SecurityHeaders, https=settings.public_url.startswith("https://"))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (auth, account, young_people, messages, appointments, alerts, safety_plans, missing, checkins, team, staff, wellbeing_routes, data_rights, placement, chronology, canned_replies, notes, timeline, dashboard, webchat_manifest, webchat, telegram, admin, admin_staff, undelivered, health, metrics_routes):
        app.include_router(module.router)
    _install_error_pages(app)
    return app


def _single_statement_engine(url: str) -> AsyncEngine | None:
    """PostgreSQL: a small pool of its own, always in autocommit, for the outbox's one-statement claims and records.

    Each statement goes without BEGIN and COMMIT, and the check of a connection taken from this pool
    (pool_pre_ping, as on the main pool) is one round trip: on the main pool it is three (SQLAlchemy wraps
    it in BEGIN and ROLLBACK there), once a batch for each of the inbound batch, the claim and the record
    (bench/inbound.py). None on SQLite, where every one stays in a transaction.
    """
    if make_url(url).get_backend_name() != "postgresql":
        return None
    # Two at once at most in practice: one claim and one record (each holds the outbox's lock for its kind).
    return create_async_engine(url, isolation_level="AUTOCOMMIT", pool_size=2, max_overflow=2, pool_pre_ping=True)


def _runtime(
    settings: Settings, clock: Clock, risk: RiskChecker | None, sleep: Sleep, single: AsyncEngine | None = None
) -> Runtime:
    engine = create_engine(settings.database_url)
    db = create_sessionmaker(engine)
    content = Content.load()
    events = EventBus()
    channels: dict = {}  # type: ignore[type-arg]
    health, metrics = Health(), Metrics()
    outbox = Outbox(
        db, clock, content, events, channels,
        sleep=sleep, health=health, metrics=metrics, lease=timedelta(seconds=settings.claim_lease_seconds),
        autocommit_db=create_sessionmaker(single) if single is not None else None,
    )
    rt = Runtime(
        settings=settings,
        engine=engine,
        db=db,
        clock=clock,
        content=content,
        events=events,
        risk=risk or ModelledRiskChecker.from_content(may_lower=settings.risk_model_may_lower),
        outbox=outbox,
        channels=channels,
        health=health,
        metrics=metrics,
    )
    channels["webchat"] = WebChatChannel(events)
    rt.scheduler = Scheduler(rt, JOB_HANDLERS, lease=timedelta(seconds=settings.claim_lease_seconds), aside=ASIDE)
    return rt


async def _start_channels(rt: Runtime) -> None:
    settings = rt.settings
    if settings.telegram_token is None:
        log.warning("Telegram is off: KEYWORKER_TELEGRAM_TOKEN is not set, so only web chat runs")
        return
    channel = TelegramChannel(
        settings.telegram_token.get_secret_value(),
        settings.telegram_api_url,
        rt.content,
        poll_timeout=settings.telegram_poll_timeout,
        send_timeout=settings.telegram_send_timeout,
        global_rate=settings.telegram_global_rate,
    )
    await channel.start()
    channel.guard = IntakeGuard(rt, settings.telegram_update_attempts)
    channel.batcher = Batcher(rt)  # updates arriving together share one transaction
    rt.telegram = channel
    rt.channels["telegram"] = channel
    if settings.telegram_webhook_url and settings.telegram_webhook_secret:
        await channel.set_webhook(
            settings.telegram_webhook_url, settings.telegram_webhook_secret.get_secret_value()
        )
        log.info("Telegram: webhook mode as @%s", channel.username)
    else:
        channel.start_polling(lambda event: receive(rt, event))
        log.info("Telegram: long polling as @%s", channel.username)


def _install_error_pages(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        if request.headers.get("hx-request") == "true":
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse(f"/login?next={exc.next_url}", status_code=303)

    @app.exception_handler(SecondFactorRequired)
    async def _second_factor(request: Request, exc: SecondFactorRequired) -> Response:
        if request.headers.get("hx-request") == "true":
            return Response(status_code=401, headers={"HX-Redirect": "/login/2fa"})
        return RedirectResponse("/login/2fa", status_code=303)

    @app.exception_handler(PasswordChangeRequired)
    async def _password(request: Request, exc: PasswordChangeRequired) -> Response:
        return RedirectResponse("/account/password", status_code=303)

    @app.exception_handler(FastAPIHTTPException)
    async def _http_error(request: Request, exc: FastAPIHTTPException) -> Response:
        if request.url.path.startswith(("/telegram", "/healthz", "/readyz", "/metrics")) or "text/html" not in request.headers.get("accept", "text/html"):
            return Response(str(exc.detail), status_code=exc.status_code, media_type="text/plain")
        return app.state.templates.TemplateResponse(
            request, "error.html", {"status": exc.status_code, "detail": exc.detail}, status_code=exc.status_code
        )

    @app.exception_handler(RequestValidationError)
    async def _bad_form(request: Request, exc: RequestValidationError) -> Response:
        fields = ", ".join(str(error["loc"][-1]) for error in exc.errors())
        return HTMLResponse(
            f"Something in that form was not right ({fields}). Please go back and check it.",
            status_code=422,
        )
