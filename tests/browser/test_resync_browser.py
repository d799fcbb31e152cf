"""Told to refresh (the live relay reconnected, so events from other processes were missed), a console page
loads what it shows again in place: the open conversation and the caseload, keeping what is being typed."""

from __future__ import annotations

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from bot.events import EVERYONE, Event
from bot.services.message import do_record_inbound
from models import ChannelLink, ContentKind, YoungPerson
from tests.browser.conftest import Pages
from tests.browser.test_console_browser import assert_healthy, assert_not_reloaded, live, mark, sign_in
from tests.browser.test_inbox_browser import sam_on_web_chat
from tests.conftest import Service

pytestmark = pytest.mark.browser


async def stored_elsewhere(service: Service, sam: int, words: str) -> None:
    """Store a message from Sam as another process would, its live event lost with the relay."""
    async with service.rt.db() as session:
        person = await session.get(YoungPerson, sam)
        link = await session.scalar(select(ChannelLink).where(ChannelLink.young_person_id == sam))
        assert person is not None and link is not None
        await do_record_inbound(
            session, service.rt.now(), person, link, content_kind=ContentKind.TEXT, body=words, meta={}, risk_level=None
        )
        await session.commit()


def resync(service: Service) -> None:
    """What bot/relay.py does each time it listens again."""
    service.rt.events.deliver(Event("resync", 0, frozenset({EVERYONE})))


async def test_a_page_told_to_resync_shows_what_it_missed_without_reloading(service: Service, pages: Pages) -> None:
    await service.staff("jo", "Jo")
    sam, _ = await sam_on_web_chat(service)
    page = await pages.laptop()
    await sign_in(page, service, "jo")

    # The caseload: a message stored by another process appears in Sam's row.
    await live(page)
    await mark(page)
    await stored_elsewhere(service, sam, "written while the relay was down")
    resync(service)
    await expect(page.locator("#caseload-rows tr").first.locator(".reasons")).to_contain_text("2 unread messages")
    await assert_not_reloaded(page)

    # Sam's page, with a reply half typed: the missed message appears, the reply box keeps its words.
    await page.goto(f"{service.url}/young-people/{sam}")
    await live(page)
    await mark(page)
    await page.locator("#body").fill("half a reply")
    await stored_elsewhere(service, sam, "and this one too")
    resync(service)
    await expect(page.locator("#messages")).to_contain_text("and this one too")
    await expect(page.locator("#body")).to_have_value("half a reply")
    await assert_not_reloaded(page)
    await assert_healthy(pages, page)


async def test_the_web_chat_told_to_resync_shows_what_it_missed_and_keeps_what_is_typed(service: Service, pages: Pages) -> None:
    await service.staff("jo", "Jo")
    sam, chat = await sam_on_web_chat(service)
    page = await pages.phone()
    await page.goto(f"{service.url}{chat}")
    await live(page)
    await mark(page)
    await page.get_by_role("textbox").fill("half a message")
    await stored_elsewhere(service, sam, "sent while the relay was down")
    resync(service)
    await expect(page.locator("#messages")).to_contain_text("sent while the relay was down")
    await expect(page.get_by_role("textbox")).to_have_value("half a message")
    await assert_not_reloaded(page)
    await assert_healthy(pages, page)
