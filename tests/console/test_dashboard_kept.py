"""Dashboard views kept fresh: a page shows figures at most a minute old, the time they are for, and never another's view."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.clock import FrozenClock
from bot.services.indicators import Scope, compute_dashboard, make_period
from bot.services.indicators.kept import HOT, KEEP, REFRESH_JOB, dump, load, plan_refresh
from models import DashboardView, Job, JobState, StaffRole
from tests.conftest import Service
from tests.console.test_dashboard import seed
from tests.e2e.test_telegram_loop import invite_for
from tests.e2e.test_webchat_loop import join_webchat


async def another_writes(service: Service, client_of_worker: str, name: str) -> None:
    """Another young person joins the worker's caseload on the web chat and writes."""
    worker = await service.login(client_of_worker)
    _, code = await invite_for(worker, name)
    chat = await join_webchat(service, code)
    await service.client.post(f"{chat}/messages", data={"text": "hi, it's me"})
    await service.idle()


def messaged(data: dict) -> float:  # type: ignore[type-arg]
    return next(f["value"] for f in data["indicators"] if f["key"] == "reach.messaged")


async def test_stored_figures_read_back_exactly(service: Service) -> None:
    await seed(service)
    now = service.rt.now()
    period = make_period("week", now.astimezone(service.rt.settings.tz).date(), service.rt.settings.tz)
    async with service.rt.db() as session:
        board = await compute_dashboard(session, period, Scope(), now, tables=True)
    # Figures with no value (None), breakdowns and both tables, and the period's weeks: all come back as they were.
    assert any(f.value is None for g in board.groups for f in g.figures) and board.tables[0].rows
    assert load(dump(board)) == board


async def test_a_page_within_a_minute_shows_the_same_figures_and_says_when_they_are_for(service: Service, clock: FrozenClock) -> None:
    await seed(service)
    priya = await service.login("priya")
    first = (await priya.get("/api/v1/indicators?period=week")).json()
    assert messaged(first) == 1
    page = await priya.get("/dashboard?period=week")
    assert f'<time datetime="{service.rt.now().isoformat()}">' in page.text  # the figures are for now
    await another_writes(service, "jo", "Kai Brown")
    clock.advance(seconds=59)
    # Within the minute: the figures worked out a moment ago, and the moment they are for.
    again = (await priya.get("/api/v1/indicators?period=week")).json()
    assert messaged(again) == 1 and again["computed_at"] == first["computed_at"]
    # A key worker asking for the whole service gets their own caseload's figures, never the manager's stored view.
    ali = (await (await service.login("ali")).get("/api/v1/indicators?period=week&scope=service")).json()
    assert messaged(ali) == 0 and ali["scope"]["kind"] == "worker"
    clock.advance(seconds=2)
    # A minute on: worked out again, with Kai's message.
    later = (await priya.get("/api/v1/indicators?period=week")).json()
    assert messaged(later) == 2 and later["computed_at"] == service.rt.now().isoformat()
    # The CSV of the same view, asked for at once, is the same figures.
    rows = (await priya.get("/dashboard.csv?table=indicators&period=week")).text.splitlines()
    assert any(r.startswith("reach,reach.messaged,") and ",2.0," in r for r in rows)


async def test_with_no_minute_allowed_every_page_is_worked_out_afresh(service: Service) -> None:
    await seed(service)
    service.rt.settings.dashboard_fresh_seconds = 0
    priya = await service.login("priya")
    assert messaged((await priya.get("/api/v1/indicators?period=week")).json()) == 1
    await another_writes(service, "jo", "Kai Brown")
    assert messaged((await priya.get("/api/v1/indicators?period=week")).json()) == 2
    # An open page does not ask for its figures again by itself: each time would be a whole computation.
    assert 'hx-trigger="every' not in (await priya.get("/dashboard?period=week")).text


async def test_the_refresh_job_keeps_the_views_people_look_at_fresh(service: Service, clock: FrozenClock) -> None:
    await seed(service)
    assert REFRESH_JOB in service.rt.scheduler.aside  # its seconds of work hold up no alert's notice
    priya = await service.login("priya")
    assert messaged((await priya.get("/api/v1/indicators?period=week")).json()) == 1
    async with service.rt.db() as session:
        await plan_refresh(session, service.rt.now())
        await session.commit()
    await another_writes(service, "jo", "Kai Brown")

    async def next_run() -> None:
        async with service.rt.db() as session:
            due = await session.scalar(select(Job.due_at).where(Job.kind == REFRESH_JOB, Job.state == JobState.PENDING))
        assert due is not None and due - service.rt.now() <= timedelta(minutes=1)  # each run plans the next
        clock.set(max(due, service.rt.now()))
        await service.run_jobs()

    await next_run()
    async with service.rt.db() as session:
        views = {v.period_name: v for v in await session.scalars(select(DashboardView))}
    # The week Priya looked at, worked out again by the job with Kai's message; and the page the dashboard opens
    # on (the last 4 weeks, whole service), which nobody asked for yet.
    assert set(views) == {"week", "4weeks"}
    assert all(v.computed_at == service.rt.now() for v in views.values())
    assert views["4weeks"].scope_kind == "service" and views["4weeks"].own is None
    # So Priya's next page, 20 seconds on, is the job's figures, with no waiting for them.
    clock.advance(seconds=20)
    data = (await priya.get("/api/v1/indicators?period=week")).json()
    assert messaged(data) == 2 and data["computed_at"] == views["week"].computed_at.isoformat()

    # Nobody looks at the week for a while: the job stops working it out, then deletes it.
    clock.advance(seconds=(HOT + timedelta(minutes=1)).total_seconds())
    await next_run()
    async with service.rt.db() as session:
        week = await session.scalar(select(DashboardView).where(DashboardView.period_name == "week"))
    assert week is not None and week.computed_at < service.rt.now() - timedelta(minutes=10)
    clock.advance(seconds=KEEP.total_seconds())
    await next_run()
    async with service.rt.db() as session:
        left = [v.period_name for v in await session.scalars(select(DashboardView))]
    assert left == ["4weeks"]


async def test_a_managers_view_holds_figures_and_staff_names_but_no_words_or_names_of_young_people(service: Service) -> None:
    await seed(service)
    await service.staff("mo", "Mo", StaffRole.MANAGER)
    mo = await service.login("mo")
    assert (await mo.get("/dashboard?period=week")).status_code == 200
    async with service.rt.db() as session:
        stored = list(await session.scalars(select(DashboardView.figures)))
    assert stored and all("Jo" in s and "my secret about home" not in s and "Samira" not in s and "Haddad" not in s for s in stored)


async def test_an_open_page_asking_by_itself_keeps_no_idle_session_alive(service: Service, clock: FrozenClock) -> None:
    await seed(service)
    priya = await service.login("priya")
    page = (await priya.get("/dashboard?period=week")).text
    assert 'hx-trigger="every 60s"' in page and "X-Keyworker-Background" in page  # the page asks by itself, saying so
    itself = {"HX-Request": "true", "X-Keyworker-Background": "1"}
    clock.advance(minutes=50)
    assert (await priya.get("/dashboard?period=week")).status_code == 200  # Priya at the keyboard: her session goes on
    clock.advance(minutes=50)
    assert (await priya.get("/dashboard?period=week", headers=itself)).status_code == 200  # 50 idle minutes: still signed in
    clock.advance(minutes=15)
    # 65 minutes since Priya did anything, though the page asked every minute: signed out, and the page is sent to sign in.
    refused = await priya.get("/dashboard?period=week", headers=itself)
    assert refused.status_code == 401 and refused.headers["HX-Redirect"] == "/login"
    assert (await priya.get("/dashboard?period=week")).status_code == 303
