"""Every console page and the web chat, checked with axe-core in chromium: no serious or critical problem anywhere."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select

from models import Alert, Appointment, StaffRole, YoungPerson
from tests.browser.axe import INFLIGHT, keyboard_problems, serious_problems
from tests.browser.conftest import Pages
from tests.conftest import PASSWORD, Service
from tests.e2e.test_telegram_loop import invite_for
from tests.e2e.test_webchat_loop import join_webchat

pytestmark = pytest.mark.browser


async def assert_accessible(page: Page, what: str) -> None:
    """No serious or critical axe-core violation, and every control reached by Tab with its focus shown."""
    report = (await serious_problems(page, what)) + (await keyboard_problems(page, what))
    assert not report, report


async def sign_in_checked(page: Page, service: Service, username: str, heading: str) -> None:
    """Sign in through the form and the two-step code, checking both pages with axe on the way."""
    await page.context.add_init_script(INFLIGHT)
    await page.goto(service.url + "/login")
    await assert_accessible(page, "the sign-in page")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Two-step sign-in")).to_be_visible()
    await assert_accessible(page, "the two-step sign-in page")
    await page.get_by_label("Six-digit code").fill(service.totp_code(username))
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name=heading)).to_be_visible()


async def sams_record(service: Service) -> tuple[httpx.AsyncClient, int, str]:
    """Jo looks after Sam, who chats on the web, has raised an alert, has an appointment, a note and canned replies."""
    console = await service.login("jo")
    sam, code = await invite_for(console, "Samira Haddad", "Sam")
    chat = await join_webchat(service, code)
    await service.client.post(f"{chat}/messages", data={"text": "can we meet at the hub on friday"})
    await service.client.post(f"{chat}/messages", data={"text": "i want to die"})  # raises an urgent alert
    await console.post(f"/young-people/{sam}/messages", data={"body": "Hi Sam, I'm here. Calling you now."})
    await console.post(
        f"/young-people/{sam}/appointments",
        data={"what": "College visit", "day": "2026-11-27", "at": "14:00", "place": "Hub", "with_whom": "Jo"},
    )
    await console.post(f"/young-people/{sam}/notes", data={"body": "Spoke to the placement about Friday."})
    await console.post("/canned-replies/starters")
    await service.idle()
    return console, sam, chat


async def test_every_key_worker_page_passes_axe(service: Service, pages: Pages) -> None:
    jo = await service.staff("jo", "Jo")
    await service.young_person("Tyler Brooks", jo, "Ty")
    _, sam, _ = await sams_record(service)
    async with service.rt.db() as session:
        alert_id = await session.scalar(select(Alert.id))
        appointment_id = await session.scalar(select(Appointment.id))
    page = await pages.laptop()
    await sign_in_checked(page, service, "jo", "Your caseload")
    await expect(page.locator("#alert-banner")).to_contain_text("Sam")
    await assert_accessible(page, "the caseload")

    conversation = f"/young-people/{sam}"
    problems = []
    for path, what, ready in [
        (conversation, "a young person's page", "#timeline .timeline-list"),
        (f"{conversation}/appointments", "the appointments page", "#appointments-list"),
        (f"{conversation}/appointments/{appointment_id}/edit", "changing an appointment", "form"),
        (f"{conversation}/wellbeing", "the wellbeing page", "main h2"),
        (f"{conversation}/team", "the team page", "main h1"),
        ("/alerts", "the alerts list", "main h1"),
        (f"/alerts/{alert_id}", "an alert", "main h1"),
        ("/duty", "the duty rota", "main h1"),
        ("/account/telegram", "alerts on my phone", "main h1"),
        ("/account", "my account", "main h1"),
        ("/account/password", "changing my password", "main h1"),
        ("/account/2fa", "changing my two-step sign-in", "main h1"),
        ("/staff", "hours and leave", "main h1"),
        (f"/staff/{jo.id}", "a worker's hours", "main h1"),
        ("/canned-replies", "canned replies", "main h1"),
        ("/young-people/new", "adding a young person", "main h1"),
        ("/young-people/99999", "a page that is not there", "main h1"),
    ]:
        await page.goto(service.url + path)
        await expect(page.locator(ready).first).to_be_visible()
        problems.append(await serious_problems(page, what))
        problems.append(await keyboard_problems(page, what))
    assert not "".join(problems), "\n".join(p for p in problems if p)

    # The conversation page with everything opened up: check-in, appointment and team forms, shortcuts.
    await page.goto(service.url + conversation)
    await expect(page.locator("#notes")).to_contain_text("Spoke to the placement")
    for summary in await page.locator("main details > summary").all():
        await summary.click()
    await assert_accessible(page, "a young person's page, every section open")

    # The invite page made by adding someone.
    await page.goto(service.url + "/young-people/new")
    await page.get_by_label("Full name").fill("Chloe Mensah")
    await page.get_by_role("button", name="Add and make an invite").click()
    await expect(page.get_by_role("heading", name="Invite for Chloe")).to_be_visible()
    await assert_accessible(page, "an invite")


async def test_manager_and_admin_pages_pass_axe(service: Service, pages: Pages) -> None:
    jo = await service.staff("jo", "Jo")
    await service.staff("priya", "Priya", StaffRole.MANAGER)
    await service.staff("ada", "Ada", StaffRole.ADMIN)
    await service.young_person("Tyler Brooks", jo, "Ty")
    await sams_record(service)

    manager = await pages.laptop()
    await sign_in_checked(manager, service, "priya", "All young people")
    await assert_accessible(manager, "everyone's caseload, as a manager")
    for path in ["/alerts", "/duty", "/staff", "/young-people/new"] + [p for p in await dashboards(service)]:
        await manager.goto(service.url + path)
        await expect(manager.locator("main h1").first).to_be_visible()
        await assert_accessible(manager, f"{path} as a manager")

    admin = await pages.laptop()
    await sign_in_checked(admin, service, "ada", "All young people")
    for path in ("/admin/staff", "/admin/audit", "/admin/sessions"):
        await admin.goto(service.url + path)
        await expect(admin.locator("main h1").first).to_be_visible()
        await assert_accessible(admin, f"{path} as an administrator")


async def dashboards(service: Service) -> list[str]:
    """The managers' figures pages this build has (the dashboard is a page of its own when present)."""
    paths = service.app.openapi()["paths"]
    return [p for p in ("/dashboard",) if p in paths and "get" in paths[p]]


async def test_web_chat_passes_axe_on_a_phone_in_english_and_arabic(service: Service, pages: Pages) -> None:
    await service.staff("jo", "Jo")
    console = await service.login("jo")
    _, code = await invite_for(console, "Samira Haddad", "Sam")
    phone = await pages.phone()
    await phone.context.add_init_script(INFLIGHT)
    await phone.goto(f"{service.url}/c/{code}")
    await assert_accessible(phone, "the web-chat join page")
    await phone.get_by_role("button", name="Start chatting").tap()
    await expect(phone.get_by_role("heading", name="Chat with Jo")).to_be_visible()
    await phone.get_by_label("Type a message").fill("hi")
    await phone.get_by_role("button", name="Send", exact=True).tap()
    await expect(phone.locator("#messages li.bubble.mine").last).to_contain_text("hi")
    await assert_accessible(phone, "the web chat")

    # Arabic: the page is right to left, and still passes.
    made = await console.post("/young-people", data={"full_name": "Omar Haddad", "preferred_name": "Omar", "language": "ar"})
    arabic_code = re.search(r'id="invite-code">([^<]+)<', made.text).group(1)
    chat = await join_webchat(service, arabic_code)
    await phone.goto(service.url + chat)
    await expect(phone.locator("html")).to_have_attribute("dir", "rtl")
    await expect(phone.locator("html")).to_have_attribute("lang", "ar")
    await assert_accessible(phone, "the web chat in Arabic")

    await phone.goto(f"{service.url}/c/wnot-a-real-link")
    await assert_accessible(phone, "a web-chat link that has stopped working")
    async with service.rt.db() as session:
        assert (await session.scalar(select(YoungPerson.language).order_by(YoungPerson.id.desc()).limit(1))) == "ar"
