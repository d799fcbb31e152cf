"""The manager dashboard in a real browser: filters, figures and charts, no words, a screenshot."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from bot.clock import FrozenClock
from models import StaffRole
from tests.browser.conftest import Pages, Screenshot
from tests.conftest import PASSWORD, Service
from tests.e2e.test_telegram_loop import invite_for
from tests.e2e.test_webchat_loop import join_webchat

pytestmark = pytest.mark.browser


async def sign_in_for_the_dashboard(page: Page, service: Service, username: str) -> None:
    """Open the dashboard's address, get sent to sign in, and sign in with the password and the two-step code."""
    await page.goto(service.url + "/dashboard")
    await expect(page).to_have_url(re.compile(r"/login\?next=/dashboard$"))
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_label("Six-digit code").fill(service.totp_code(username))
    await page.get_by_role("button", name="Sign in").click()


async def test_a_manager_reads_the_dashboard_and_changes_the_period(service: Service, pages: Pages, screenshot: Screenshot) -> None:
    await service.staff("jo", "Jo")
    await service.staff("priya", "Priya", StaffRole.MANAGER)
    jo = await service.login("jo")
    person_id, code = await invite_for(jo, "Samira Haddad", "Sam")
    chat = await join_webchat(service, code)
    await service.client.post(f"{chat}/messages", data={"text": "can we talk about my placement"})
    sent = await jo.post(f"/young-people/{person_id}/messages", data={"body": "Yes, I will call you at 4"})
    assert sent.status_code in (200, 303), sent.text
    await service.idle()
    page = await pages.laptop()
    await sign_in_for_the_dashboard(page, service, "priya")
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    await expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()
    await page.get_by_label("Period").select_option("week")
    await page.get_by_role("button", name="Show").click()
    await expect(page).to_have_url(f"{service.url}/dashboard?period=week&first=&last=&scope=service&staff_id=")
    await expect(page.get_by_role("heading", name="Responsiveness")).to_be_visible()
    await expect(page.get_by_role("img", name="Sent at least one message")).to_be_visible()
    await expect(page.get_by_role("rowheader", name="Jo")).to_be_visible()
    assert "my placement" not in await page.content()
    await screenshot(page, "dashboard", until=page.get_by_role("heading", name="Check-ins"))


async def test_an_open_dashboard_brings_in_newer_figures_by_itself(service: Service, pages: Pages, clock: FrozenClock) -> None:
    await service.staff("jo", "Jo")
    await service.staff("priya", "Priya", StaffRole.MANAGER)
    jo = await service.login("jo")

    async def writes(full_name: str) -> None:
        _, code = await invite_for(jo, full_name)
        chat = await join_webchat(service, code)
        await service.client.post(f"{chat}/messages", data={"text": "are you there?"})
        await service.idle()

    await writes("Samira Haddad")
    page = await pages.laptop()
    await page.clock.install()  # the page's own timers run when the test says
    await sign_in_for_the_dashboard(page, service, "priya")
    await page.get_by_label("Period").select_option("week")
    await page.get_by_role("button", name="Show").click()
    messaged = page.get_by_role("figure", name="Sent at least one message").locator(".dash-value")
    await expect(messaged).to_have_text("1")
    await expect(page.get_by_text("Figures as of 25 Nov 10:00:00, brought up to date while this page is open.")).to_be_visible()
    # Kai writes; a minute later the open page shows it, and when its figures are for, with nobody touching it.
    await writes("Kai Brown")
    clock.advance(seconds=61)
    await page.get_by_label("Period").select_option("quarter")  # a choice not yet sent is left as it is
    await page.clock.fast_forward("01:01")
    await expect(messaged).to_have_text("2")
    await expect(page.get_by_text("Figures as of 25 Nov 10:01:01")).to_be_visible()
    await expect(page.get_by_label("Period")).to_have_value("quarter")
