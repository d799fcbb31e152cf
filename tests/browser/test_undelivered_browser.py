"""A message that could not be processed, in a real browser: the worker reads it on the young person's page and
marks it handled; an administrator does the same for an unlinked chat; both pages pass axe."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from playwright.async_api import expect

from bot.services.undelivered import do_keep_undelivered
from models import StaffRole, YoungPerson
from tests.browser.conftest import Pages
from tests.browser.test_accessibility import assert_accessible, sign_in_checked
from tests.browser.test_console_browser import assert_healthy
from tests.browser.test_inbox_browser import sam_on_web_chat
from tests.conftest import Service

pytestmark = pytest.mark.browser


def update(update_id: int, chat: int, text: str) -> dict[str, Any]:
    return {"update_id": update_id, "message": {"message_id": 7, "date": 0, "chat": {"id": chat, "type": "private"}, "text": text}}


async def kept(service: Service, sam: int | None, update_id: int, text: str) -> None:
    async with service.rt.db() as session, session.begin():
        person = await session.get(YoungPerson, sam) if sam else None
        await do_keep_undelivered(
            session, service.rt.now(), source="telegram", update_id=update_id, raw=update(update_id, 5550001, text),
            young_person=person, first_failed_at=service.rt.now(), failures=5, error="KeyError at checkin.py:88",
            risk=None, escalate_after=timedelta(minutes=15),
        )


async def test_the_worker_and_an_administrator_read_and_handle_messages_not_processed(service: Service, pages: Pages) -> None:
    await service.staff("jo", "Jo")
    await service.staff("ada", "Ada", StaffRole.ADMIN)
    sam, _ = await sam_on_web_chat(service)
    await kept(service, sam, 101, "the one that broke something")
    await kept(service, None, 102, "hello? who is this")

    page = await pages.laptop()
    await sign_in_checked(page, service, "jo", "Your caseload")
    await expect(page.locator("#caseload-rows tr").first.locator(".reasons")).to_contain_text("A message could not be processed")
    await page.goto(f"{service.url}/young-people/{sam}")
    panel = page.locator("#undelivered")
    await expect(panel.get_by_role("heading", name="A message could not be processed")).to_be_visible()
    await expect(panel).to_contain_text("the one that broke something")
    await assert_accessible(page, "a young person's page with a message not processed")
    await panel.get_by_role("button", name="Mark as handled").click()
    await expect(panel).to_be_empty()

    admin = await pages.laptop()
    await sign_in_checked(admin, service, "ada", "All young people")
    await admin.goto(f"{service.url}/admin/undelivered")
    await expect(admin.get_by_role("heading", name="Messages not processed")).to_be_visible()
    await expect(admin.locator("main")).to_contain_text("hello? who is this")
    await assert_accessible(admin, "/admin/undelivered as an administrator")
    await admin.get_by_role("button", name="Mark as handled").click()
    await expect(admin.locator("main")).to_contain_text("None waiting.")
    await assert_healthy(pages, page, admin)
