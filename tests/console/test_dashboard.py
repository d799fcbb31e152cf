"""The dashboard page, its CSV tables and JSON API: who sees what, filters in the URL, exports audited."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import select

from models import AuditEvent, StaffMember, StaffRole
from tests.conftest import Service
from tests.e2e.test_telegram_loop import invite_for
from tests.e2e.test_webchat_loop import join_webchat


async def seed(service: Service) -> int:
    """Jo looks after Sam, who writes something private; Ali looks after nobody; Priya manages."""
    await service.staff("jo", "Jo")
    await service.staff("ali", "Ali")
    await service.staff("priya", "Priya", StaffRole.MANAGER)
    jo = await service.login("jo")
    person_id, code = await invite_for(jo, "Samira Haddad", "Sam")
    chat = await join_webchat(service, code)
    await service.client.post(f"{chat}/messages", data={"text": "my secret about home"})
    await service.idle()
    return person_id


async def test_a_manager_sees_figures_charts_and_tables_but_no_words(service: Service) -> None:
    await seed(service)
    priya = await service.login("priya")
    page = await priya.get("/dashboard?period=week")
    assert page.status_code == 200
    assert "Sent at least one message" in page.text and "<svg" in page.text
    assert "Key workers" in page.text and "Jo" in page.text
    assert "my secret about home" not in page.text
    # The filters stay in the URL: the period chosen is selected again, and the exports carry it.
    assert '<option value="week" selected>' in page.text
    assert "/dashboard.csv?table=workers&amp;period=week" in page.text


async def test_a_key_worker_sees_only_their_own_caseload(service: Service) -> None:
    await seed(service)
    ali = await service.login("ali")
    # Asking for the whole service does not widen a key worker's view.
    data = (await ali.get("/api/v1/indicators?period=week&scope=service")).json()
    assert data["scope"] == {"kind": "worker", "staff_id": data["scope"]["staff_id"]}
    figures = {f["key"]: f for f in data["indicators"]}
    assert figures["reach.messaged"]["value"] == 0  # Sam is Jo's, not Ali's
    workers = next(t for t in data["tables"] if t["key"] == "workers")
    assert [row["worker"] for row in workers["rows"]] == ["Ali"]
    jo = await service.login("jo")
    mine = {f["key"]: f for f in (await jo.get("/api/v1/indicators?period=week")).json()["indicators"]}
    assert mine["reach.messaged"]["value"] == 1


async def test_json_is_versioned_and_every_export_is_audited(service: Service) -> None:
    await seed(service)
    priya = await service.login("priya")
    data = (await priya.get("/api/v1/indicators?period=week")).json()
    assert data["version"] == "1"
    assert {"key", "value", "previous", "change", "trend", "unit"} <= set(data["indicators"][0])
    assert len(data["weeks"]) == 1 and all(len(f["trend"]) == 1 for f in data["indicators"])
    response = await priya.get("/dashboard.csv?table=indicators&period=week")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][:3] == ["group", "key", "label"] and any(r[1] == "reach.messaged" and r[4] == "1.0" for r in rows)
    assert (await priya.get("/dashboard.csv?table=nonsense")).status_code == 400
    async with service.rt.db() as session:
        targets = list(await session.scalars(select(AuditEvent.target).where(AuditEvent.action == "export")))
    assert "indicators.json" in targets and "indicators.csv:indicators" in targets


async def test_a_custom_period_and_a_bad_day(service: Service) -> None:
    await seed(service)
    priya = await service.login("priya")
    page = await priya.get("/dashboard?period=custom&first=2026-11-02&last=2026-11-29")
    assert page.status_code == 200 and "2 November 2026 to 29 November 2026" in page.text
    assert (await priya.get("/dashboard?period=custom&first=yesterday&last=2026-11-29")).status_code == 400
    assert (await priya.get("/dashboard?scope=worker")).status_code == 400


async def test_a_manager_who_picks_one_workers_caseload_sees_that_workers_rows(service: Service) -> None:
    await seed(service)
    priya = await service.login("priya")
    everyone = (await priya.get("/api/v1/indicators?period=week")).json()
    [jo] = [row for t in everyone["tables"] if t["key"] == "workers" for row in t["rows"] if row["worker"] == "Jo"]
    jo_id, ali_id = await _staff_id(service, "jo"), await _staff_id(service, "ali")

    def workers(data: dict[str, Any]) -> list[dict[str, Any]]:
        return next(t["rows"] for t in data["tables"] if t["key"] == "workers")

    chosen = (await priya.get(f"/api/v1/indicators?period=week&scope=worker&staff_id={jo_id}")).json()
    assert workers(chosen) == [jo]  # Jo's row alone, as on the whole service's table
    assert {f["key"]: f["value"] for f in chosen["indicators"]}["reach.messaged"] == 1  # Sam, Jo's
    # Ali looks after nobody: Ali's row, all noughts, and nothing of Jo's.
    ali = (await priya.get(f"/api/v1/indicators?period=week&scope=worker&staff_id={ali_id}")).json()
    assert [(row["worker"], row["caseload"], row["messaged"]) for row in workers(ali)] == [("Ali", 0, 0)]
    page = await priya.get(f"/dashboard?period=week&scope=worker&staff_id={ali_id}")
    assert '<th scope="row">Ali</th>' in page.text and '<th scope="row">Jo</th>' not in page.text
    rows = list(csv.reader(io.StringIO((await priya.get(f"/dashboard.csv?table=workers&period=week&scope=worker&staff_id={jo_id}")).text)))
    assert [r[0] for r in rows[1:]] == ["Jo"]


async def _staff_id(service: Service, username: str) -> int:
    async with service.rt.db() as session:
        return int(await session.scalar(select(StaffMember.id).where(StaffMember.username == username)))
