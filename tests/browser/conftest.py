"""Browser fixtures: Debian's chromium driven by Playwright, a fresh context per page, screenshots."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Locator, Page, Response, async_playwright
from playwright.async_api import expect

CHROMIUM = Path("/usr/bin/chromium")
# No internet here: without the background-networking switches chromium floods refused connections.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}
# Generous waits: these machines are often busy running other suites at once.
TIMEOUT_MS = 15_000
expect.set_options(timeout=TIMEOUT_MS)

# Runs before any page script: counts open live streams and records what went wrong in the page.
WATCH = """
window.__kw = {sseOpen: 0, problems: []};
document.addEventListener('htmx:sseOpen', () => { window.__kw.sseOpen += 1; });
for (const name of ['htmx:responseError', 'htmx:sendError', 'htmx:swapError', 'htmx:targetError', 'htmx:oobErrorNoTarget']) {
  document.addEventListener(name, (e) => {
    const d = e.detail || {};
    window.__kw.problems.push([name, d.pathInfo && d.pathInfo.requestPath, d.xhr && d.xhr.status].join(' '));
  });
}
document.addEventListener('securitypolicyviolation', (e) => {
  window.__kw.problems.push('CSP blocked ' + e.violatedDirective + ' ' + e.blockedURI);
});
"""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Launch Debian's chromium headless (never a downloaded browser)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests drive Debian's chromium; "
            "run `make test`, which installs it with apt-get (apt-get install chromium)",
            pytrace=False,
        )
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


def _expected_refusal(response: Response) -> bool:
    # A form sent back with the reason is part of the page, not a fault.
    return response.status in (401, 422) and response.request.method == "POST"


class Pages:
    """Open pages in fresh browser contexts (a laptop for staff, a phone for a young person)."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.contexts: list[BrowserContext] = []
        self.errors: list[str] = []

    async def _open(self, **options: object) -> Page:
        context = await self.browser.new_context(locale="en-GB", timezone_id="Europe/London", **options)
        context.set_default_timeout(TIMEOUT_MS)
        await context.add_init_script(WATCH)
        self.contexts.append(context)
        page = await context.new_page()
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))
        page.on("console", lambda message: self._console(page, message))
        page.on("response", lambda response: self._response(response))
        return page

    def _console(self, page: Page, message: ConsoleMessage) -> None:
        # A failed load is reported with its address by _response.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(f"{page.url}: console: {message.text}")

    def _response(self, response: Response) -> None:
        if response.status >= 400 and not _expected_refusal(response):
            self.errors.append(f"{response.request.method} {response.url} answered {response.status}")

    async def laptop(self) -> Page:
        return await self._open(viewport=LAPTOP)

    async def phone(self) -> Page:
        return await self._open(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()


@pytest.fixture
async def pages(browser: Browser) -> AsyncIterator[Pages]:
    opened = Pages(browser)
    try:
        yield opened
    finally:
        await opened.close()


class Screenshot(Protocol):
    async def __call__(self, page: Page, name: str, *, until: Locator | None = None) -> None: ...


@pytest.fixture
def screenshot(database_url: str) -> Screenshot:
    """Save a full-page screenshot to docs/screenshots/<name>.png, on the SQLite run only (no duplicates)."""

    async def save(page: Page, name: str, *, until: Locator | None = None) -> None:
        """Save the whole page, or from its top down to the bottom of `until`."""
        if not database_url.startswith("sqlite"):
            return
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        clip = None
        if until is not None:
            await page.evaluate("() => window.scrollTo(0, 0)")
            box = await until.bounding_box()
            assert box and page.viewport_size, f"{until} is not on the page"
            clip = {"x": 0, "y": 0, "width": page.viewport_size["width"], "height": box["y"] + box["height"] + 24}
        # A steady picture: no blinking caret, no animation half way.
        await page.screenshot(
            path=SCREENSHOTS / f"{name}.png", full_page=True, clip=clip, animations="disabled", caret="hide"
        )

    return save
