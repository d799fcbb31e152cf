"""The key worker's day in a real browser: attention order, canned replies, notes, appointments, shortcuts, web-chat app."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select

from models import Message
from tests.browser.conftest import Pages, Screenshot
from tests.browser.test_console_browser import (
    assert_focus_visible,
    assert_healthy,
    assert_no_sideways_scroll,
    live,
    sign_in,
)
from tests.conftest import Service
from tests.e2e.test_webchat_loop import join_webchat

pytestmark = pytest.mark.browser


async def sam_on_web_chat(service: Service, language: str = "en") -> tuple[int, str]:
    """Add Sam through the console, link her web chat, and have her write once; return her id and chat path."""
    console = await service.login("jo")
    made = await console.post("/young-people", data={"full_name": "Samira Haddad", "preferred_name": "Sam", "language": language})
    code = re.search(r'id="invite-code">([^<]+)<', made.text).group(1)
    sam = int(re.search(r'href="/young-people/(\d+)"', made.text).group(1))
    chat = await join_webchat(service, code)
    await service.client.post(f"{chat}/messages", data={"text": "is friday still on"})
    await service.idle()
    return sam, chat


async def test_canned_reply_note_and_appointment_from_the_young_persons_page(
    service: Service, pages: Pages, screenshot: Screenshot
) -> None:
    jo = await service.staff("jo", "Jo")
    await service.young_person("Tyler Brooks", jo, "Ty")
    sam, chat = await sam_on_web_chat(service)
    page = await pages.laptop()
    await sign_in(page, service, "jo")

    # Sam has written and nobody has read it: she is first, and the row says why.
    first = page.locator("#caseload-rows tr").first
    await expect(first).to_contain_text("Sam")
    await expect(first.locator(".reasons")).to_contain_text("1 unread message")

    # Jo sets up canned replies: starts from the examples and changes one to sound like Jo.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Canned replies").click()
    await page.get_by_role("button", name="Start with three examples").click()
    await expect(page.get_by_role("status")).to_have_text("Added.")
    await page.get_by_label("Reply").nth(1).fill("Hi {name}! Just checking in. How are things today? Jo")
    await page.get_by_role("button", name="Save Checking in").click()
    await expect(page.get_by_role("status")).to_have_text("Changed.")
    await page.get_by_label("Title (a few words, shown on the button)").fill("Friday")
    await page.locator("#new-body").fill("Yes {name}, Friday is still on. See you at 3.")
    await page.get_by_role("button", name="Add canned reply").click()
    await expect(page.get_by_role("status")).to_have_text("Added.")
    await screenshot(page, "canned-replies")

    # In the conversation, the canned reply goes into the box, Jo adds to it, and sends.
    await page.goto(f"{service.url}/young-people/{sam}")
    await live(page)
    box = page.get_by_label("Reply to Sam")
    await page.locator("#canned").get_by_role("button", name="Friday").click()
    await expect(box).to_have_value("Yes Sam, Friday is still on. See you at 3.")
    await expect(box).to_be_focused()
    await page.keyboard.type(" Bring your ID.")
    await page.locator("#reply").get_by_role("button", name="Send", exact=True).click()
    sent = "Yes Sam, Friday is still on. See you at 3. Bring your ID."
    await expect(page.locator("#messages li.msg.out", has_text=sent)).to_contain_text("Sent")
    async with service.rt.db() as session:
        assert sent in (await session.scalars(select(Message.body))).all()

    # A private note: saved on the page, with Jo's name, and never sent to Sam.
    await page.get_by_label("Add a note").fill("Sam worried about moving again. Ask placement team on Friday.")
    await page.get_by_role("button", name="Save note").click()
    notes = page.locator("#notes")
    await expect(notes.get_by_role("status")).to_have_text("Note saved.")
    await expect(notes.locator(".notes li").first).to_contain_text("Ask placement team on Friday")
    await expect(notes.locator(".notes li").first).to_contain_text("Jo")

    # An appointment from the same page; the timeline shows it.
    appointments = page.locator("#appointments")
    await appointments.get_by_text("Make an appointment").click()
    await appointments.get_by_label("What").fill("College visit")
    await appointments.get_by_label("Date").fill("2026-11-27")
    await appointments.get_by_label("Time (UK time)").fill("15:00")
    await appointments.get_by_role("button", name="Save and tell Sam").click()
    await expect(appointments).to_contain_text("Saved, and sent to Sam.")
    await expect(page.locator("#timeline")).to_contain_text("College visit")

    phone = await pages.phone()
    await phone.goto(service.url + chat)
    await expect(phone.locator("#messages")).to_contain_text(sent)
    await expect(phone.locator("#messages")).not_to_contain_text("Ask placement team")
    await assert_healthy(pages, page, phone)
    await page.evaluate("() => { document.activeElement.blur(); window.scrollTo(0, 0); }")
    await screenshot(page, "young-person", until=page.locator("#timeline"))


async def press(page: Page, key: str) -> None:
    """Press one key with nothing typed into a box, as someone using the shortcuts would."""
    await page.keyboard.press(key)


async def test_the_inbox_by_keyboard_shortcuts(service: Service, pages: Pages) -> None:
    jo = await service.staff("jo", "Jo")
    await service.young_person("Tyler Brooks", jo, "Ty")
    _, chat = await sam_on_web_chat(service)
    console = await service.login("jo")
    await console.post("/canned-replies/starters")
    page = await pages.laptop()
    await sign_in(page, service, "jo")

    # '?' opens the list of shortcuts, shown on the page.
    help_list = page.locator("#shortcuts")
    await expect(help_list).not_to_have_attribute("open", "")
    await press(page, "?")
    await expect(help_list).to_have_attribute("open", "")
    await expect(help_list).to_contain_text("Next / previous young person")

    # j and k move down and up the caseload, whoever needs attention first; Enter opens.
    await press(page, "j")
    await assert_focus_visible(page.locator("#caseload-rows tr").nth(0).get_by_role("link"))
    await press(page, "j")
    await assert_focus_visible(page.locator("#caseload-rows tr").nth(1).get_by_role("link"))
    await press(page, "k")
    await assert_focus_visible(page.get_by_role("link", name="Sam", exact=True))
    # Sam writes again: the row updates live, and the keyboard stays where it was.
    await live(page)
    await service.client.post(f"{chat}/messages", data={"text": "also can i bring my friend"})
    await expect(page.locator("#caseload-rows tr").first.locator(".reasons")).to_contain_text("2 unread messages")
    await expect(page.get_by_role("link", name="Sam", exact=True)).to_be_focused()

    # '/' goes to the name search; letters typed there are only letters.
    await press(page, "/")
    search = page.get_by_label("Find by name")
    await expect(search).to_be_focused()
    await page.keyboard.type("jk")
    await expect(search).to_have_value("jk")
    await press(page, "Escape")
    await press(page, "j")
    await expect(page.locator("#caseload-rows tr").nth(0).get_by_role("link")).to_be_focused()
    await press(page, "Enter")
    await expect(page.get_by_role("heading", name=re.compile(r"^Sam"))).to_be_visible()

    # 'r' is the reply box; 'c' the canned replies; 'n' the note box; 'i' back to the caseload.
    await press(page, "r")
    box = page.get_by_label("Reply to Sam")
    await assert_focus_visible(box)
    await page.keyboard.type("ok ")
    await press(page, "Escape")
    await press(page, "c")
    await assert_focus_visible(page.locator("#canned").get_by_role("button").first)
    await press(page, "Enter")
    await expect(box).to_have_value(re.compile(r"^ok\n\nHi Sam, I've got your message"))
    await expect(box).to_be_focused()
    await press(page, "Escape")
    await press(page, "n")
    await assert_focus_visible(page.get_by_label("Add a note"))
    await page.keyboard.type("Rang Sam back, all fine.")
    await press(page, "Tab")
    await assert_focus_visible(page.get_by_role("button", name="Save note"))
    await press(page, "Enter")
    await expect(page.locator("#notes").get_by_role("status")).to_have_text("Note saved.")
    await expect(page.locator("#notes .notes li").first).to_contain_text("Rang Sam back, all fine.")
    await press(page, "i")
    await expect(page.get_by_role("heading", name="Your caseload")).to_be_visible()
    await assert_healthy(pages, page)


async def test_web_chat_installs_as_an_app_and_reads_right_to_left_in_arabic(
    service: Service, pages: Pages, screenshot: Screenshot
) -> None:
    await service.staff("jo", "Jo")
    _, chat = await sam_on_web_chat(service, language="ar")
    phone = await pages.phone()
    await phone.goto(service.url + chat)
    await expect(phone.locator("html")).to_have_attribute("dir", "rtl")
    await expect(phone.get_by_role("heading", name="تحدّث مع Jo")).to_be_visible()

    # Installable: a manifest that opens straight into this chat, with icons that load.
    href = await phone.locator('link[rel="manifest"]').get_attribute("href")
    manifest = await phone.evaluate("async (url) => (await fetch(url)).json()", href)
    assert manifest["start_url"] == urlsplit(chat).path and manifest["display"] == "standalone"
    assert manifest["dir"] == "rtl" and manifest["lang"] == "ar"
    for icon in manifest["icons"]:
        status = await phone.evaluate("async (url) => (await fetch(url)).status", icon["src"])
        assert status == 200, icon

    # Right to left: Sam's own messages sit on the left, and the page fits a 360-pixel screen.
    mine = phone.locator("#messages li.bubble.mine").first
    await expect(mine).to_contain_text("is friday still on")
    box = await mine.bounding_box()
    assert box and box["x"] + box["width"] / 2 < 180, f"her own message is not on the left: {box}"
    await assert_no_sideways_scroll(phone)

    # Every button is big enough to tap (44 by 44 pixels at least).
    await phone.get_by_label("اكتب رسالة").fill("شكرا")
    for button in await phone.get_by_role("button").all():
        size = await button.bounding_box()
        assert size and size["width"] >= 44 and size["height"] >= 44, f"{await button.inner_text()} is {size}"
    await phone.get_by_role("button", name="أرسل").tap()
    await expect(phone.locator("#messages li.bubble.mine").last).to_contain_text("شكرا")
    await assert_healthy(pages, phone)
    await screenshot(phone, "webchat-arabic")
