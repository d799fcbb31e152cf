"""Admins manage staff accounts in the console: add, change a role, disable, reset two-step sign-in; all audited."""

from __future__ import annotations

import re

from sqlalchemy import select

from models import AuditEvent, StaffMember, StaffRole
from tests.conftest import Service
from tests.console.test_auth import password_step


async def actions(service: Service) -> list[str]:
    async with service.rt.db() as session:
        return list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


async def test_an_admin_adds_a_worker_who_then_signs_in_with_the_one_time_password(service: Service) -> None:
    await service.staff("ada", "Ada", StaffRole.ADMIN)
    admin = await service.login("ada")
    page = await admin.post("/admin/staff", data={"username": "Priya.K", "display_name": "Priya", "role": "key_worker"})
    assert page.status_code == 200 and "Priya can now sign in" in page.text
    password = re.search(r'id="one-time-password">([^<]+)<', page.text).group(1)
    client, answer = await password_step(service, "priya.k", password)
    assert answer.headers["location"] == "/login/2fa"  # next: set up two-step sign-in, then choose a password
    assert "staff_added" in await actions(service)

    taken = await admin.post("/admin/staff", data={"username": "priya.k", "display_name": "Another", "role": "manager"})
    assert taken.status_code == 400 and "already taken" in taken.text and 'value="Another"' in taken.text


async def test_role_changes_take_effect_at_once_and_an_admin_cannot_lock_themselves_out(service: Service) -> None:
    jo = await service.staff("jo", "Jo")
    ada = await service.staff("ada", "Ada", StaffRole.ADMIN)
    admin = await service.login("ada")
    worker = await service.login("jo")
    assert (await worker.get("/admin/staff")).status_code == 403

    await admin.post(f"/admin/staff/{jo.id}/role", data={"role": "admin"})
    assert (await worker.get("/admin/staff")).status_code == 200  # the same session, the new role
    await admin.post(f"/admin/staff/{jo.id}/role", data={"role": "key_worker"})
    assert (await worker.get("/admin/staff")).status_code == 403

    refused = await admin.post(f"/admin/staff/{ada.id}/role", data={"role": "manager"})
    assert refused.status_code == 400 and "your own admin role" in refused.text
    refused = await admin.post(f"/admin/staff/{ada.id}/disable")
    assert refused.status_code == 400 and "your own account" in refused.text
    async with service.rt.db() as session:
        assert (await session.get(StaffMember, ada.id)).role == StaffRole.ADMIN
    assert (await actions(service)).count("role_changed") == 2


async def test_disabling_or_resetting_two_step_sign_in_ends_the_worker_s_sessions(service: Service) -> None:
    jo = await service.staff("jo", "Jo")
    ali = await service.staff("ali", "Ali")
    await service.staff("ada", "Ada", StaffRole.ADMIN)
    admin = await service.login("ada")
    jo_console = await service.login("jo")
    ali_console = await service.login("ali")

    await admin.post(f"/admin/staff/{ali.id}/reset-2fa")
    assert (await ali_console.get("/young-people")).status_code == 303
    client, _ = await password_step(service, "ali")
    assert "totp-secret" in (await client.get("/login/2fa")).text  # enrols a new app

    done = await admin.post(f"/admin/staff/{jo.id}/disable")
    assert done.headers["location"].startswith("/admin/staff?done=disabled")
    assert (await jo_console.get("/young-people")).status_code == 303
    page = await admin.get("/admin/staff")
    row = re.search(rf'<tr id="staff-{jo.id}">.*?</tr>', page.text, re.S).group(0)
    assert "Disabled" in row and "/disable" not in row
    assert {"staff_reset_2fa", "staff_disable"} <= set(await actions(service))
