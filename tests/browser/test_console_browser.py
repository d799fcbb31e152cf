"""The core loop in a real browser: live console, web chat on a phone, keyboard only, README screenshots."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Locator, Page, expect

from tests.browser.conftest import Pages, Screenshot
from tests.conftest import PASSWORD, Service
from tests.fakes.botapi import FakeBotAPI

pytestmark = pytest.mark.browser

SAM_CHAT = 5550101


async def sign_in(page: Page, service: Service, username: str) -> None:
    """Sign in through the login form and the two-step code, as a key worker would."""
    await page.goto(service.url + "/young-people")
    await expect(page).to_have_url(re.compile(r"/login\?next=/young-people$"))
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Two-step sign-in")).to_be_visible()
    await page.get_by_label("Six-digit code").fill(service.totp_code(username))
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Your caseload")).to_be_visible()


async def add_young_person(page: Page, full_name: str, preferred: str) -> None:
    """Add a young person through the 'Add a young person' form and land on their invite."""
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Add a young person").click()
    await page.get_by_label("Full name").fill(full_name)
    await page.get_by_label("What they like to be called").fill(preferred)
    await page.get_by_role("button", name="Add and make an invite").click()
    await expect(page.get_by_role("heading", name=f"Invite for {preferred}")).to_be_visible()


def caseload_link(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile(r"^Caseload"))


async def live(page: Page) -> None:
    """Wait until the page's live stream (server-sent events) is open."""
    # A function, not an expression: the console's CSP rightly forbids eval in the page.
    await page.wait_for_function("() => window.__kw.sseOpen > 0")


async def mark(page: Page) -> None:
    """Leave a marker in the page's window: a reload or navigation wipes it."""
    await page.evaluate("() => { window.__kw.marker = 'still the same page'; }")


async def assert_not_reloaded(page: Page) -> None:
    assert await page.evaluate("() => window.__kw.marker") == "still the same page", f"{page.url} was reloaded"


async def assert_healthy(pages: Pages, *opened: Page) -> None:
    """No script errors, failed htmx requests or content-security-policy blocks in any page."""
    for page in opened:
        assert await page.evaluate("() => window.__kw.problems") == [], page.url
    assert pages.errors == []


async def assert_focus_visible(locator: Locator) -> None:
    """The element has keyboard focus and shows a clear outline for it."""
    await expect(locator).to_be_focused()
    outline = await locator.evaluate(
        "el => { const s = getComputedStyle(el); return {style: s.outlineStyle, width: parseFloat(s.outlineWidth),"
        " visible: el.matches(':focus-visible')}; }"
    )
    assert outline["visible"] and outline["style"] != "none" and outline["width"] >= 2, outline


async def tab_to(page: Page, target: Locator, limit: int = 30) -> None:
    """Press Tab until the target has focus, as a keyboard user would."""
    handle = await target.element_handle()
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate("el => document.activeElement === el", handle):
            return
    raise AssertionError(f"{limit} presses of Tab never reached {target}")


async def assert_no_sideways_scroll(page: Page) -> None:
    widths = await page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"{page.url} scrolls sideways: content {widths[0]}px in {widths[1]}px"


async def test_console_shows_a_telegram_message_live_and_sends_the_reply(
    service: Service, fake_bot_api: FakeBotAPI, pages: Pages, screenshot: Screenshot
) -> None:
    jo = await service.staff("jo", "Jo")
    # Others on Jo's caseload, so the page looks like a working day.
    await service.young_person("Tyler Brooks", jo, "Ty")
    await service.young_person("Chloe Mensah", jo, "Chloe")
    page = await pages.laptop()

    await page.goto(service.url + "/young-people")
    await expect(page.get_by_role("heading", name="Sign in to Keyworker")).to_be_visible()
    await screenshot(page, "login")
    await sign_in(page, service, "jo")

    await add_young_person(page, "Samira Haddad", "Sam")
    code = await page.locator("#invite-code").inner_text()
    assert code.startswith("i")
    await screenshot(page, "invite")

    fake_bot_api.push_command(SAM_CHAT, "start", code)
    welcome = await fake_bot_api.wait_for_sent_async(SAM_CHAT, count=2, timeout=15)
    assert any("Hi Sam" in m["text"] for m in welcome)

    # The caseload updates itself when Sam writes: row badge and the unread count in the header.
    await caseload_link(page).click()
    row = page.locator("#caseload-rows tr", has_text="Samira Haddad")
    await expect(row).to_contain_text("Telegram")
    await expect(row).to_contain_text("Linked")
    await live(page)
    await mark(page)
    fake_bot_api.push_text(SAM_CHAT, "hey is friday still on? placement said i might have to move again")
    await expect(row.locator(".badge")).to_have_text("1 unread")
    await expect(caseload_link(page)).to_have_accessible_name(re.compile(r"^Caseload\W*1 unread$"))
    await expect(page.locator("#unread .badge")).to_be_visible()
    await assert_not_reloaded(page)
    await screenshot(page, "caseload")

    # Jo opens the conversation; the next message appears on the open page without a reload.
    await row.get_by_role("link", name="Sam").click()
    await expect(page.get_by_role("heading", name=re.compile(r"^Sam"))).to_be_visible()
    messages = page.locator("#messages")
    await expect(messages).to_contain_text("placement said i might have to move again")
    await live(page)
    await mark(page)
    fake_bot_api.push_text(SAM_CHAT, "can we meet at the hub instead of the house")
    await expect(messages.locator("li.msg.in").last).to_contain_text("can we meet at the hub instead of the house")
    # Seen on the open page, so nothing is left unread in the header.
    await expect(page.locator("#unread .badge")).to_have_count(0)
    await expect(caseload_link(page)).to_have_accessible_name("Caseload")
    await assert_not_reloaded(page)

    # Jo replies: Telegram gets it with Jo's name, and the page shows it was sent.
    reply = "Hi Sam, yes Friday is still on. The hub is fine, 3pm? I'll bring the forms about the move."
    box = page.get_by_label("Reply to Sam")
    await box.fill(reply)
    await page.locator("#reply").get_by_role("button", name="Send", exact=True).click()
    sent = await fake_bot_api.wait_for_sent_async(SAM_CHAT, count=3, timeout=15)
    assert sent[2]["text"] == f"Jo:\n{reply}"
    await expect(messages.locator("li.msg.out", has_text=reply)).to_contain_text("Sent")
    await expect(box).to_have_value("")
    await assert_not_reloaded(page)

    # A little more of the conversation, for the README picture.
    fake_bot_api.push_text(SAM_CHAT, "ok 3pm. thanks jo")
    await expect(messages.locator("li.msg.in").last).to_contain_text("ok 3pm. thanks jo")
    second = "See you then. Message me here any time before Friday."
    await page.get_by_label("Reply to Sam").fill(second)
    await page.locator("#reply").get_by_role("button", name="Send", exact=True).click()
    await expect(messages.locator("li.msg.out", has_text=second)).to_contain_text("Sent")
    assert (await fake_bot_api.wait_for_sent_async(SAM_CHAT, count=4, timeout=15))[3]["text"] == f"Jo:\n{second}"
    await assert_not_reloaded(page)
    await assert_healthy(pages, page)
    # Down to the reply box: the panels below the conversation make a full page very tall.
    await page.evaluate("() => document.activeElement.blur()")
    await screenshot(page, "conversation", until=page.locator("#reply"))


async def test_web_chat_on_a_phone_talks_live_with_the_console(
    service: Service, fake_bot_api: FakeBotAPI, pages: Pages, screenshot: Screenshot
) -> None:
    await service.staff("jo", "Jo")
    desk = await pages.laptop()
    await sign_in(desk, service, "jo")
    await add_young_person(desk, "Samira Haddad", "Sam")
    link = await desk.locator("#webchat-link").get_attribute("href")
    assert link and urlsplit(link).path.startswith("/c/i")

    # Sam opens the invite's web-chat link on a small phone and taps to start.
    phone = await pages.phone()
    await phone.goto(service.url + urlsplit(link).path)
    start = phone.get_by_role("button", name="Start chatting")
    await expect(start).to_be_visible()
    await assert_no_sideways_scroll(phone)
    await start.tap()
    await expect(phone).to_have_url(re.compile(r"/c/w[^/]+$"))
    await expect(phone.get_by_role("heading", name="Chat with Jo")).to_be_visible()
    await live(phone)
    await mark(phone)

    await desk.get_by_role("link", name="Go to Sam's conversation").click()
    await expect(desk.get_by_role("heading", name=re.compile(r"^Sam"))).to_be_visible()
    await expect(desk.locator(".channels")).to_contain_text("Web chat")
    await live(desk)
    await mark(desk)

    # Sam's message shows in her chat at once, and on Jo's open page live.
    words = "hi its sam. can u help me with my college form"
    await phone.get_by_label("Type a message").fill(words)
    send = phone.get_by_role("button", name="Send", exact=True)
    size = await send.bounding_box()
    assert size and size["width"] >= 44 and size["height"] >= 44, f"send button is only {size}"
    await send.tap()
    await expect(phone.locator("#messages li.bubble.mine").last).to_contain_text(words)
    await expect(phone.get_by_label("Type a message")).to_have_value("")
    await expect(desk.locator("#messages li.msg.in").last).to_contain_text(words)
    await expect(desk.locator("#messages li.msg.in").last).to_contain_text("via web chat")

    # Jo's reply arrives in the web chat live, with Jo's name on it.
    reply = "Of course! Bring it on Thursday and we'll fill it in together."
    await desk.get_by_label("Reply to Sam").fill(reply)
    await desk.locator("#reply").get_by_role("button", name="Send", exact=True).click()
    theirs = phone.locator("#messages li.bubble.theirs").last
    await expect(theirs).to_contain_text(reply)
    await expect(theirs.locator(".who")).to_have_text("Jo")
    await expect(desk.locator("#messages li.msg.out", has_text=reply)).to_contain_text("Sent")
    assert fake_bot_api.sent_messages() == [], "a web-chat reply went to Telegram"

    await phone.get_by_label("Type a message").fill("ok thank u")
    await phone.get_by_role("button", name="Send", exact=True).tap()
    await expect(desk.locator("#messages li.msg.in").last).to_contain_text("ok thank u")
    await assert_not_reloaded(phone)
    await assert_not_reloaded(desk)
    await assert_no_sideways_scroll(phone)
    await assert_healthy(pages, phone, desk)
    await screenshot(phone, "webchat-phone")


async def test_sign_in_add_and_reply_by_keyboard_alone(
    service: Service, fake_bot_api: FakeBotAPI, pages: Pages
) -> None:
    await service.staff("jo", "Jo")
    page = await pages.laptop()
    await page.goto(service.url + "/login")

    # The login form: the username has focus, Tab moves on, Enter signs in.
    username = page.get_by_label("Username")
    await expect(username).to_be_focused()
    await page.keyboard.type("jo")
    await page.keyboard.press("Tab")
    await assert_focus_visible(page.get_by_label("Password"))
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Tab")
    await assert_focus_visible(page.get_by_role("button", name="Sign in"))
    await page.keyboard.press("Enter")
    # The two-step code: the field has focus, Enter signs in.
    await expect(page.get_by_role("heading", name="Two-step sign-in")).to_be_visible()
    await expect(page.get_by_label("Six-digit code")).to_be_focused()
    await page.keyboard.type(service.totp_code("jo"))
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Your caseload")).to_be_visible()

    # The first stop on every page is a visible 'Skip to content' link.
    await page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    await assert_focus_visible(skip)
    assert await skip.evaluate("el => { const r = el.getBoundingClientRect(); return r.left >= 0 && r.top >= 0; }")

    # Add a young person by keyboard.
    await tab_to(page, page.get_by_role("navigation", name="Main").get_by_role("link", name="Add a young person"))
    await page.keyboard.press("Enter")
    await tab_to(page, page.get_by_label("Full name"))
    await page.keyboard.type("Samira Haddad")
    await page.keyboard.press("Tab")
    await page.keyboard.type("Sam")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Invite for Sam")).to_be_visible()
    fake_bot_api.push_command(SAM_CHAT, "start", await page.locator("#invite-code").inner_text())
    await fake_bot_api.wait_for_sent_async(SAM_CHAT, count=2, timeout=15)

    # Open the conversation and reply by keyboard.
    await tab_to(page, page.get_by_role("link", name="Go to Sam's conversation"))
    await page.keyboard.press("Enter")
    box = page.get_by_label("Reply to Sam")
    await tab_to(page, box)
    await assert_focus_visible(box)
    await page.keyboard.type("Hi Sam, it's Jo. How did today go?")
    await page.keyboard.press("Tab")
    await assert_focus_visible(page.locator("#reply").get_by_role("button", name="Send", exact=True))
    await page.keyboard.press("Enter")
    sent = await fake_bot_api.wait_for_sent_async(SAM_CHAT, count=3, timeout=15)
    assert sent[2]["text"] == "Jo:\nHi Sam, it's Jo. How did today go?"
    await expect(page.locator("#messages li.msg.out", has_text="How did today go?")).to_contain_text("Sent")
    # Focus comes back to the empty reply box, ready for the next message.
    await expect(box).to_be_focused()
    await expect(box).to_have_value("")
    await assert_healthy(pages, page)
