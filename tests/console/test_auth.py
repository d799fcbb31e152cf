"""Staff sign-in: argon2id passwords, mandatory TOTP, lockout, session lifetimes, CSRF, headers, audit."""

from __future__ import annotations

import re

import httpx
import pyotp
from sqlalchemy import select, update

from bot.clock import FrozenClock
from bot.services.audit import seal, verify
from bot.services.staff import do_create_staff, do_disable_staff
from models import AuditEvent, StaffMember, StaffRole
from tests.conftest import PASSWORD, Service


async def password_step(service: Service, username: str, password: str = PASSWORD) -> tuple[httpx.AsyncClient, httpx.Response]:
    client = httpx.AsyncClient(base_url=service.url, timeout=10)
    return client, await client.post("/login", data={"username": username, "password": password})


def csrf_of(page: httpx.Response) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


async def test_first_sign_in_enrols_two_step_sign_in_and_replaces_the_session(service: Service) -> None:
    async with service.rt.db() as session:
        await do_create_staff(session, service.rt.now(), username="jo", display_name="Jo", role=StaffRole.KEY_WORKER, password=PASSWORD)
        await session.execute(update(StaffMember).values(must_change_password=False))
        await session.commit()
    client, answer = await password_step(service, "jo")
    assert answer.headers["location"] == "/login/2fa"
    before = client.cookies["kw_session"]
    blocked = await client.get("/young-people")
    assert blocked.status_code == 303 and blocked.headers["location"] == "/login/2fa"

    step = await client.get("/login/2fa")
    secret = re.search(r'id="totp-secret" class="secret">([A-Z2-7]+)<', step.text).group(1)
    assert "<svg" in step.text  # the QR code
    wrong = await client.post("/login/2fa", data={"code": "000000", "csrf_token": csrf_of(step)})
    assert wrong.status_code == 401 and "not right" in wrong.text
    code = pyotp.TOTP(secret).at(service.rt.now())
    done = await client.post("/login/2fa", data={"code": code, "csrf_token": csrf_of(step)})
    assert done.status_code == 303
    assert client.cookies["kw_session"] != before  # a new token at sign-in
    assert (await client.get("/young-people")).status_code == 200

    again, _ = await password_step(service, "jo")
    step = await again.get("/login/2fa")
    assert "totp-secret" not in step.text  # enrolled: only the code is asked for now


async def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(service: Service, clock: FrozenClock) -> None:
    await service.staff("jo", "Jo")
    for _ in range(4):
        _, answer = await password_step(service, "jo", "wrong-password")
        assert answer.status_code == 401 and "do not match" in answer.text
    _, answer = await password_step(service, "jo", "wrong-password")
    assert "locked until 10:15" in answer.text
    _, answer = await password_step(service, "jo")
    assert answer.status_code == 401 and "locked" in answer.text  # even the right password waits
    clock.advance(minutes=15)
    assert await service.login("jo")


async def test_sessions_end_when_idle_too_long_or_too_old(service: Service, clock: FrozenClock) -> None:
    await service.staff("jo", "Jo")
    console = await service.login("jo")
    clock.advance(minutes=59)
    assert (await console.get("/young-people")).status_code == 200
    clock.advance(minutes=61)
    assert (await console.get("/young-people")).headers["location"].startswith("/login")

    console = await service.login("jo")
    for _ in range(25):  # busy all day, but a session lasts twelve hours at most
        clock.advance(minutes=30)
        page = await console.get("/young-people")
    assert page.status_code == 303


async def test_disabling_an_account_ends_its_sessions_at_once(service: Service) -> None:
    jo = await service.staff("jo", "Jo")
    console = await service.login("jo")
    async with service.rt.db() as session:
        await do_disable_staff(session, service.rt.now(), await session.get(StaffMember, jo.id))
        await session.commit()
    assert (await console.get("/young-people")).status_code == 303
    _, answer = await password_step(service, "jo")
    assert answer.status_code == 401


async def test_an_admin_can_end_anyone_s_session(service: Service) -> None:
    await service.staff("jo", "Jo")
    await service.staff("ada", "Ada", StaffRole.ADMIN)
    console = await service.login("jo")
    admin = await service.login("ada")
    page = await admin.get("/admin/sessions")
    ref = re.search(r'Jo \(jo\).*?name="session_ref" value="([0-9a-f]+)"', page.text, re.S).group(1)
    await admin.post("/admin/sessions/end", data={"session_ref": ref})
    assert (await console.get("/young-people")).status_code == 303
    assert (await console.get("/admin/sessions")).status_code in (303, 403)


async def test_state_changes_need_the_csrf_token(service: Service) -> None:
    await service.staff("jo", "Jo")
    console = await service.login("jo")
    del console.headers["X-CSRF-Token"]
    refused = await console.post("/young-people", data={"full_name": "Sneaky"})
    assert refused.status_code == 403


async def test_every_page_carries_the_security_headers(service: Service) -> None:
    page = await service.client.get("/login")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"
    await service.staff("jo", "Jo")
    _, answer = await password_step(service, "jo")
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


async def test_the_audit_log_records_views_and_sign_ins_and_shows_tampering(service: Service) -> None:
    jo = await service.staff("jo", "Jo")
    await service.staff("ada", "Ada", StaffRole.ADMIN)
    sam = await service.young_person("Samira Haddad", jo, "Sam")
    await password_step(service, "jo", "not-the-password")
    console = await service.login("jo")
    await console.get(f"/young-people/{sam.id}")
    async with service.rt.db() as session:
        await seal(session)
        actions = (await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id))).all()
        assert ["login_failed", "password_ok", "login", "view_messages"] == [a for a in actions if a != "view_audit"][:4]
        assert (await verify(session)).intact
        viewed = (await session.scalars(select(AuditEvent).where(AuditEvent.action == "view_messages"))).one()
        assert viewed.actor_staff_id == jo.id and viewed.young_person_id == sam.id

    admin = await service.login("ada")
    page = await admin.get("/admin/audit")
    assert "is intact" in page.text
    assert "view_messages" in (await admin.get("/admin/audit.csv")).text
    assert (await console.get("/admin/audit")).status_code == 403

    async with service.rt.db() as session:
        await session.execute(update(AuditEvent).where(AuditEvent.id == viewed.id).values(actor_staff_id=999))
        await session.commit()
        check = await verify(session)
    assert check.first_broken_id == viewed.id
    assert f"broken at entry {viewed.id}" in (await admin.get("/admin/audit")).text


async def test_changing_the_password_asks_for_the_old_one_and_signs_out_everywhere_else(service: Service) -> None:
    await service.staff("jo", "Jo")
    laptop = await service.login("jo")
    phone = await service.login("jo")
    wrong = await laptop.post("/account/password", data={"current": "not-it", "new": "a-brand-new-pass", "confirm": "a-brand-new-pass"})
    assert wrong.status_code == 400 and "current password is not right" in wrong.text
    done = await laptop.post("/account/password", data={"current": PASSWORD, "new": "a-brand-new-pass", "confirm": "a-brand-new-pass"})
    assert done.headers["location"] == "/account?done=password"
    assert "signed out everywhere else" in (await laptop.get("/account?done=password")).text
    assert (await phone.get("/young-people")).status_code == 303  # the other session ended
    _, old = await password_step(service, "jo")
    assert old.status_code == 401
    assert await service.login("jo", "a-brand-new-pass")


async def test_moving_two_step_sign_in_to_a_new_app_needs_the_password_and_a_code_from_the_new_app(service: Service) -> None:
    await service.staff("jo", "Jo")
    laptop = await service.login("jo")
    phone = await service.login("jo")
    assert "Move two-step sign-in" in (await laptop.get("/account")).text

    wrong = await laptop.post("/account/2fa", data={"password": "not-it"})
    assert wrong.status_code == 400 and "not right" in wrong.text and "totp-secret" not in wrong.text
    step = await laptop.post("/account/2fa", data={"password": PASSWORD})
    new_secret = re.search(r'id="totp-secret" class="secret">([A-Z2-7]+)<', step.text).group(1)
    assert "<svg" in step.text and new_secret != service.totp_secrets["jo"]
    old_code = await laptop.post("/account/2fa/confirm", data={"code": service.totp_code("jo")})
    assert old_code.status_code == 400 and "new app" in old_code.text and new_secret in old_code.text

    done = await laptop.post("/account/2fa/confirm", data={"code": pyotp.TOTP(new_secret).at(service.rt.now())})
    assert done.headers["location"] == "/account?done=2fa"
    assert (await laptop.get("/young-people")).status_code == 200  # this session carries on
    assert (await phone.get("/young-people")).status_code == 303  # the others end

    old_app = service.totp_secrets["jo"]
    service.totp_secrets["jo"] = new_secret
    assert await service.login("jo")  # the new app's code signs in
    client, _ = await password_step(service, "jo")
    step = await client.get("/login/2fa")
    refused = await client.post("/login/2fa", data={"code": pyotp.TOTP(old_app).at(service.rt.now()), "csrf_token": csrf_of(step)})
    assert refused.status_code == 401  # the old phone no longer works
    async with service.rt.db() as session:
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert "second_factor_changed" in actions


async def test_wrong_passwords_at_a_security_change_count_towards_the_lockout(service: Service) -> None:
    await service.staff("jo", "Jo")
    console = await service.login("jo")
    for _ in range(4):
        assert (await console.post("/account/2fa", data={"password": "guess"})).status_code == 400
    locked = await console.post("/account/2fa", data={"password": "guess"})
    assert "locked" in locked.text
    still = await console.post("/account/2fa", data={"password": PASSWORD})
    assert still.status_code == 400 and "locked" in still.text
