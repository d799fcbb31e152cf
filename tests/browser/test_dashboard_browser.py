"""The manager dashboard in a real browser: filters, figures and charts, no words, a screenshot."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from models import StaffRole
from tests.browser.conftest import Pages, Screenshot
from tests.conftest import PASSWORD, Service
from tests.e2e.test_telegram_loop import invite_for
from tests.e2e.test_webchat_loop import join_webchat

pytestmark = pytest.mark.browser


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
    await page.goto(service.url + "/dashboard")
    await expect(page).to_have_url(re.compile(r"/login\?next=/dashboard$"))
    await page.get_by_label("Username").fill("priya")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_label("Six-digit code").fill(service.totp_code("priya"))
    await page.get_by_role("button", name="Sign in").click()
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
