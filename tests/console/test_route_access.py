"""Least privilege, route by route: every console route is checked against every role, from the app itself.

A new route fails this suite until it is public on purpose, or refuses strangers and other caseloads.
"""

from __future__ import annotations

import re

import httpx
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select, text

from models import Base, StaffRole
from tests.conftest import Service
from tests.e2e.test_telegram_loop import invite_for
from tests.e2e.test_webchat_loop import join_webchat

# Public on purpose: signing in, health checks, Prometheus figures (counts only, optional bearer token),
# the Telegram webhook (secret header), web chat (secret link).
PUBLIC = re.compile(r"^/(|login|login/2fa|healthz|readyz|metrics|telegram/webhook|c/.*)$")
# Ids that belong to a young person's record: another key worker must get 403 or 404 for them.
DENIED = {403, 404}
# A form missing its fields is refused (422) before anything is looked up: that reveals nothing either.
DENIED_POST = DENIED | {422}


async def seed(service: Service) -> dict[str, object]:
    """Jo looks after Sam, who has messages, an alert and whatever else the features make; Ali does not."""
    jo = await service.staff("jo", "Jo")
    await service.staff("ali", "Ali")
    await service.staff("priya", "Priya", StaffRole.MANAGER)
    await service.staff("ada", "Ada", StaffRole.ADMIN)
    console = await service.login("jo")
    person_id, code = await invite_for(console, "Samira Haddad", "Sam")
    chat = await join_webchat(service, code)
    await service.client.post(f"{chat}/messages", data={"text": "i want to die"})  # raises an alert too
    made = await console.post(
        f"/young-people/{person_id}/appointments",
        data={"what": "Dentist", "day": "2026-12-02", "at": "14:30", "place": "Market Street", "with_whom": "Jo"},
    )
    assert made.status_code in (200, 303), made.text
    await service.idle()
    return {"jo": jo, "person_id": person_id, "console": console}


async def resolve(service: Service, name: str, person_id: int, jo_id: int) -> int | None:
    """Find an id for a path parameter that belongs to Sam (or, for staff ids, to Jo)."""
    if name == "young_person_id":
        return person_id
    if name == "staff_id":
        return jo_id
    stem = name.removesuffix("_id")
    async with service.rt.db() as session:
        for table in Base.metadata.sorted_tables:
            if table.name.rstrip("s").removesuffix("e") not in (stem, stem.rstrip("e")) and table.name not in (stem + "s", stem + "es"):
                continue
            (key,) = table.primary_key.columns
            if "young_person_id" in table.c:
                query = select(key).where(table.c.young_person_id == person_id).limit(1)
            elif "alert_id" in table.c:
                query = text(f"SELECT {table.name}.{key.name} FROM {table.name} LIMIT 1")  # noqa: S608 - our own table names
            else:
                continue
            found = await session.scalar(query)
            if found is not None:
                return int(found)
    return None


async def test_every_route_refuses_strangers_and_other_caseloads(service: Service) -> None:
    seeded = await seed(service)
    person_id, jo = int(seeded["person_id"]), seeded["jo"]
    ali = await service.login("ali")
    owner: httpx.AsyncClient = seeded["console"]  # type: ignore[assignment]
    anonymous = httpx.AsyncClient(base_url=service.url, timeout=10)
    app_routes = service.app.openapi()["paths"]
    assert len(app_routes) > 15, "the app's routes could not be listed"
    problems: list[str] = []
    for path, operations in sorted(app_routes.items()):
        if PUBLIC.match(path):
            continue
        params = re.findall(r"{(\w+)}", path)
        url = path
        for name in params:
            value = await resolve(service, name, person_id, jo.id)
            if value is None:
                problems.append(f"{path}: no test data for {{{name}}}; teach resolve() where it comes from")
                break
            url = url.replace(f"{{{name}}}", str(value))
        else:
            for method in operations:
                method = method.upper()
                stranger = await anonymous.request(method, url, headers={"accept": "text/html"})
                if not (stranger.status_code in (303, 401) and "/login" in stranger.headers.get("location", stranger.headers.get("hx-redirect", "/login"))):
                    problems.append(f"{method} {path}: anonymous got {stranger.status_code}")
                if params:
                    other = await ali.request(method, url, headers={"accept": "text/html"})
                    if other.status_code not in (DENIED_POST if method == "POST" else DENIED):
                        problems.append(f"{method} {path}: another key worker got {other.status_code}")
                    if method == "GET" and not path.endswith("/media"):  # Sam's message has no photo
                        mine = await owner.request(method, url, headers={"accept": "text/html"})
                        if mine.status_code in DENIED:
                            problems.append(f"{method} {path}: the young person's own key worker got {mine.status_code} (test ids wrong?)")
    assert not problems, "\n".join(problems)


async def test_admin_pages_are_for_admins_only(service: Service) -> None:
    await seed(service)
    admin_paths = [p for p, ops in service.app.openapi()["paths"].items() if p.startswith("/admin") and "get" in ops]
    assert admin_paths
    for username in ("jo", "priya"):
        client = await service.login(username)
        for path in admin_paths:
            if "{" not in path:
                assert (await client.get(path)).status_code == 403, (username, path)
    admin = await service.login("ada")
    assert (await admin.get("/admin/audit")).status_code == 200


async def test_a_manager_sees_figures_but_not_words(service: Service) -> None:
    seeded = await seed(service)
    manager = await service.login("priya")
    caseload = await manager.get("/young-people")
    assert "Sam" in caseload.text
    conversation = await manager.get(f"/young-people/{seeded['person_id']}")
    assert conversation.status_code == 404
    assert "i want to die" not in caseload.text
